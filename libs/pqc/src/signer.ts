import { BatchSigner, type BatchSignerOptions } from './batch-signer.js';
import { type Certificate } from './certs.js';
import { type CompositeKeyPair } from './composite.js';
import { type Classification, fieldsDigest, payloadDigest } from './fields.js';
import { encodeProof } from './merkle.js';

/** Header names of the signature on the wire. */
export const SigHeader = {
  Kid: 'Heady-Kid',
  IssuedAt: 'Heady-Issued-At',
  Classification: 'Heady-Class',
  Root: 'Heady-Sig-Root',
  Signature: 'Heady-Sig',
  Proof: 'Heady-Sig-Proof',
  /** `<stream>/<seq>/<original kid>` on a message re-published by an operator (signed). */
  ReplayOf: 'Heady-Replay-Of',
} as const;

/** What to sign about one message. */
export interface SignInput {
  subject: string;
  msgId: string;
  contentType: string;
  payload: Uint8Array;
  classification?: Classification;
  /** Set when an operator re-publishes a stored message (see {@link formatReplayOf}). */
  replayOf?: string;
}

/** Signs messages with the current epoch key; swapping the key (rotation) is one call. */
export class MessageSigner {
  private cert: Certificate;
  private batch: BatchSigner;
  private readonly totals = { batches: 0, messages: 0 };

  constructor(
    epoch: { key: CompositeKeyPair; cert: Certificate },
    private readonly opts?: Omit<BatchSignerOptions, 'publish'> & {
      /** Publishes a batch signature once under (kid, root); messages then carry only their proof. */
      publishSignature?: (kid: string, root: Uint8Array, signature: Uint8Array) => Promise<void>;
      /** Told of every root signed (base64), e.g. {@link MessageVerifier.trustRoot} of this process's verifier. */
      onRoot?: (kid: string, rootB64: string) => void;
    },
  ) {
    this.cert = epoch.cert;
    this.batch = this.batchFor(epoch);
  }

  private batchFor(epoch: { key: CompositeKeyPair; cert: Certificate }): BatchSigner {
    const { publishSignature, onRoot: _onRoot, ...rest } = this.opts ?? {};
    const kid = epoch.cert.kid;
    return new BatchSigner(epoch.key.secretKey, {
      ...rest,
      ...(publishSignature ? { publish: (r, s) => publishSignature(kid, r, s) } : {}),
    });
  }

  /** The certificate of the key signing now. */
  get certificate(): Certificate {
    return this.cert;
  }

  get stats(): { batches: number; messages: number } {
    return {
      batches: this.totals.batches + this.batch.stats.batches,
      messages: this.totals.messages + this.batch.stats.messages,
    };
  }

  /**
   * Switches to a new epoch key. Digests already queued name the old kid, so they stay
   * with the old key's batch, which drains on its own.
   */
  rotate(epoch: { key: CompositeKeyPair; cert: Certificate }): void {
    this.totals.batches += this.batch.stats.batches;
    this.totals.messages += this.batch.stats.messages;
    this.cert = epoch.cert;
    const old = this.batch;
    this.batch = this.batchFor(epoch);
    // the old key's queue drains within milliseconds; then its worker (and key copy) goes
    setTimeout(() => void old.close(), 10_000).unref();
  }

  /** Stops the signing worker; messages already queued are still signed first. */
  async close(): Promise<void> {
    await this.batch.close();
  }

  /** The signature headers for one message (batched with whatever else is being signed now). */
  async sign(m: SignInput): Promise<Record<string, string>> {
    const kid = this.cert.kid;
    const batch = this.batch;
    const issuedAt = Date.now();
    const classification = m.classification ?? 'INTERNAL';
    const digest = fieldsDigest({
      subject: m.subject,
      msgId: m.msgId,
      issuedAt,
      kid,
      classification,
      contentType: m.contentType,
      payloadDigest: payloadDigest(m.payload),
      ...(m.replayOf ? { replayOf: m.replayOf } : {}),
    });
    const s = await batch.sign(digest);
    this.opts?.onRoot?.(kid, s.encoded.root);
    return {
      [SigHeader.Kid]: kid,
      [SigHeader.IssuedAt]: String(issuedAt),
      [SigHeader.Classification]: classification,
      [SigHeader.Root]: s.encoded.root,
      [SigHeader.Proof]: encodeProof(s.proof),
      ...(s.inline ? { [SigHeader.Signature]: s.encoded.signature } : {}),
      ...(m.replayOf ? { [SigHeader.ReplayOf]: m.replayOf } : {}),
    };
  }
}
