import {
  type Certificate,
  DEFAULT_RECIPIENTS,
  recipientOf,
  subjectPermitted,
  unb64,
  verifyCertificate,
} from './certs.js';
import { compositeVerify } from './composite.js';
import {
  CLASSIFICATIONS,
  type Classification,
  type ReplayReference,
  fieldsDigest,
  parseReplayOf,
  payloadDigest,
} from './fields.js';
import { decodeProof, verifyInclusion } from './merkle.js';
import { SigHeader } from './signer.js';

/** Why a message was refused; `heady_bus_rejected_total{reason}` counts them. */
export const RejectReason = {
  Unsigned: 'unsigned',
  Malformed: 'malformed',
  UnknownKey: 'unknown-key',
  UntrustedKey: 'untrusted-key',
  ExpiredKey: 'expired-key',
  RevokedKey: 'revoked-key',
  SubjectNotPermitted: 'subject-not-permitted',
  BadSignature: 'bad-signature',
  Stale: 'stale',
  Duplicate: 'duplicate',
  /** A replay not signed by an operator key, or an operator key signing anything but a replay. */
  ReplayNotAuthorised: 'replay-not-authorised',
  /** A RESTRICTED message whose payload is not sealed. */
  NotSealed: 'not-sealed',
  /** A sealed payload that does not open here (tampered, misdirected, or its epoch secret deleted). */
  Undecryptable: 'undecryptable',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** Where the verifier finds certificates and revocations (the `heady-keys` KV bucket in production). */
export interface KeyResolver {
  epoch(kid: string): Promise<Certificate | undefined>;
  /** The service's identity: the current one, or with `kid` that one (current or re-issued since). */
  identity(service: string, kid?: string): Promise<Certificate | undefined>;
  /** True when a valid, root-signed revocation of `kid` exists. */
  revoked(kid: string): Promise<boolean>;
  /** A batch signature published once under (kid, root), for messages that carry only their proof. */
  signature?(kid: string, root: Uint8Array): Promise<Uint8Array | undefined>;
}

/** A message to verify, as received. */
export interface VerifyInput {
  subject: string;
  msgId: string;
  contentType: string;
  payload: Uint8Array;
  header: (name: string) => string | undefined;
  /** When JetStream stored it (ms); a signature issued long before is a replay of an old message. */
  storedAt?: number;
}

export type VerifyResult =
  | {
      ok: true;
      kid: string;
      service: string;
      classification: Classification;
      issuedAt: number;
      /** Set when an operator re-published the message. */
      replayOf?: ReplayReference;
    }
  | { ok: false; reason: RejectReason; detail: string };

/** Options of {@link MessageVerifier}. */
export interface VerifierOptions {
  rootPublicKey: Uint8Array;
  /** Largest accepted gap between issued-at and storage (or now), in ms (default 120 s). */
  maxSkewMs?: number;
  /** How long a verified certificate chain is trusted before it is looked up again (default 30 s). */
  chainTtlMs?: number;
  /** Verified batch roots remembered (default 4096). */
  rootCacheSize?: number;
  /** Which service answers requests on which subjects (default {@link DEFAULT_RECIPIENTS}); a reply from any other is refused. */
  recipients?: Record<string, string>;
}

/** The request a reply must answer: replies are published on an inbox, so they are bound to their request instead. */
export interface ReplyBinding {
  /** The request's subject; its recipient service (see {@link recipientOf}) must be the signer. */
  subject: string;
  /** The request's `Nats-Msg-Id`; the reply's is `re:<it>`. */
  msgId: string;
}

/** The message id a reply to the request `requestMsgId` carries. */
export const replyMsgId = (requestMsgId: string): string => `re:${requestMsgId}`;

const reject = (reason: RejectReason, detail: string): VerifyResult => ({
  ok: false,
  reason,
  detail,
});

/**
 * Checks a signed message: its key's certificate chain up to the root anchor, revocation,
 * validity at issue time, the subject against the key's permissions, freshness, and the
 * composite signature over the Merkle root its proof leads to. A root already verified
 * is not verified again, so a batch costs one ML-DSA verification per consumer.
 */
export class MessageVerifier {
  private readonly roots = new Map<string, true>();
  private readonly chains = new Map<
    string,
    { cert: Certificate; identity: Certificate; until: number }
  >();
  private readonly maxSkewMs: number;
  private readonly chainTtlMs: number;
  private readonly rootCacheSize: number;

  constructor(
    private readonly resolver: KeyResolver,
    private readonly opts: VerifierOptions,
  ) {
    this.maxSkewMs = opts.maxSkewMs ?? 120_000;
    this.chainTtlMs = opts.chainTtlMs ?? 30_000;
    this.rootCacheSize = opts.rootCacheSize ?? 4096;
  }

  /**
   * Marks a root this process signed itself as verified: its own messages (a pipeline
   * consuming the stage commands it published) then skip the composite verification.
   * Everything else — chain, revocation, subject, freshness, inclusion proof — is still checked.
   */
  trustRoot(kid: string, rootB64: string): void {
    this.remember(`${kid}:${rootB64}`);
  }

  private remember(cacheKey: string): void {
    if (this.roots.has(cacheKey)) return;
    this.roots.set(cacheKey, true);
    if (this.roots.size > this.rootCacheSize)
      this.roots.delete(this.roots.keys().next().value as string);
  }

  async verify(m: VerifyInput, reply?: ReplyBinding): Promise<VerifyResult> {
    const kid = m.header(SigHeader.Kid);
    const inlineSig = m.header(SigHeader.Signature);
    if (!kid || (!inlineSig && !m.header(SigHeader.Root)))
      return reject(RejectReason.Unsigned, 'no signature headers');
    const issuedAt = Number(m.header(SigHeader.IssuedAt));
    const classification = m.header(SigHeader.Classification) as Classification | undefined;
    const rootB64 = m.header(SigHeader.Root);
    const proof = decodeProof(m.header(SigHeader.Proof) ?? '');
    const replayHeader = m.header(SigHeader.ReplayOf);
    const replayOf = replayHeader === undefined ? undefined : parseReplayOf(replayHeader);
    if (replayHeader !== undefined && !replayOf)
      return reject(RejectReason.Malformed, 'the replay reference is malformed');
    if (
      !Number.isSafeInteger(issuedAt) ||
      !classification ||
      !CLASSIFICATIONS.includes(classification) ||
      !rootB64 ||
      !proof
    ) {
      return reject(RejectReason.Malformed, 'signature headers are incomplete or malformed');
    }

    const chain = await this.chain(kid);
    if ('reason' in chain) return chain;
    const { cert, identity } = chain;
    // only operators replay, and operator keys sign nothing but replays
    if (replayOf && identity.kind !== 'operator')
      return reject(
        RejectReason.ReplayNotAuthorised,
        `${cert.service} is not an operator and may not replay messages`,
      );
    if (!replayOf && identity.kind === 'operator')
      return reject(
        RejectReason.ReplayNotAuthorised,
        `operator key ${kid} of ${cert.service} may only sign replays`,
      );
    if (issuedAt < cert.notBefore || issuedAt > cert.notAfter)
      return reject(
        RejectReason.ExpiredKey,
        `key ${kid} was not valid at ${new Date(issuedAt).toISOString()}`,
      );
    if ((await this.resolver.revoked(kid)) || (await this.resolver.revoked(identity.kid)))
      return reject(RejectReason.RevokedKey, `key ${kid} of ${cert.service} is revoked`);
    if (reply) {
      if (m.msgId !== replyMsgId(reply.msgId))
        return reject(RejectReason.Malformed, `the reply does not answer request ${reply.msgId}`);
      const answerer = recipientOf(reply.subject, this.opts.recipients ?? DEFAULT_RECIPIENTS);
      if (answerer && answerer !== cert.service)
        return reject(
          RejectReason.SubjectNotPermitted,
          `${cert.service} may not answer requests on ${reply.subject} (${answerer} does)`,
        );
    } else if (!subjectPermitted(identity.subjects, m.subject))
      return reject(
        RejectReason.SubjectNotPermitted,
        `${cert.service} may not publish on ${m.subject}`,
      );
    const reference = m.storedAt ?? Date.now();
    if (Math.abs(reference - issuedAt) > this.maxSkewMs)
      return reject(
        RejectReason.Stale,
        `issued ${Math.round((reference - issuedAt) / 1000)} s before it was stored`,
      );

    const digest = fieldsDigest({
      subject: m.subject,
      msgId: m.msgId,
      issuedAt,
      kid,
      classification,
      contentType: m.contentType,
      payloadDigest: payloadDigest(m.payload),
      ...(replayHeader ? { replayOf: replayHeader } : {}),
    });
    const root = unb64(rootB64);
    if (!verifyInclusion(digest, proof, root))
      return reject(RejectReason.BadSignature, 'the message is not covered by the signed root');
    // A root verified once under this kid is authentic; any message proven to be in it is too.
    const cacheKey = `${kid}:${rootB64}`;
    if (!this.roots.has(cacheKey)) {
      const sig = inlineSig ? unb64(inlineSig) : await this.resolver.signature?.(kid, root);
      if (!sig)
        return reject(
          RejectReason.Unsigned,
          `no signature published for this batch root of key ${kid}`,
        );
      if (!compositeVerify(unb64(cert.publicKey), root, sig))
        return reject(RejectReason.BadSignature, 'composite signature does not verify');
      this.remember(cacheKey);
    }
    return {
      ok: true,
      kid,
      service: cert.service,
      classification,
      issuedAt,
      ...(replayOf ? { replayOf } : {}),
    };
  }

  /** The epoch certificate of `kid` and its identity, both verified up to the root (cached briefly). */
  private async chain(
    kid: string,
  ): Promise<
    | { cert: Certificate; identity: Certificate }
    | { ok: false; reason: RejectReason; detail: string }
  > {
    const now = Date.now();
    const hit = this.chains.get(kid);
    if (hit && hit.until > now) return hit;
    const cert = await this.resolver.epoch(kid);
    if (!cert)
      return {
        ok: false,
        reason: RejectReason.UnknownKey,
        detail: `no certificate for key ${kid}`,
      };
    // the identity that certified this key, even if the service's identity was re-issued since
    const identity = await this.resolver.identity(cert.service, cert.issuer);
    if (
      !identity ||
      (identity.kind !== 'identity' && identity.kind !== 'operator') ||
      identity.service !== cert.service ||
      !verifyCertificate(identity, this.opts.rootPublicKey)
    ) {
      return {
        ok: false,
        reason: RejectReason.UntrustedKey,
        detail: `the identity of ${cert.service} is not signed by the root`,
      };
    }
    if (
      cert.kind !== 'epoch' ||
      cert.kid !== kid ||
      !verifyCertificate(cert, unb64(identity.publicKey))
    ) {
      return {
        ok: false,
        reason: RejectReason.UntrustedKey,
        detail: `key ${kid} is not certified by the identity of ${cert.service}`,
      };
    }
    const entry = { cert, identity, until: now + this.chainTtlMs };
    this.chains.set(kid, entry);
    return entry;
  }
}
