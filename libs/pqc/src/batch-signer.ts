import { compositeSign } from './composite.js';
import { WorkerSigner } from './worker-signer.js';
import { type InclusionProof, merkleTree } from './merkle.js';

/** What a message carries to prove it was signed: the signed root, its signature and the message's path to it. */
export interface BatchSignature {
  root: Uint8Array;
  signature: Uint8Array;
  proof: InclusionProof;
  /** base64 of root and signature, encoded once per batch (a signature is 3373 bytes) */
  encoded: { root: string; signature: string };
  /** False when the signature was published once for the batch (see `publish`) instead of travelling with each message. */
  inline: boolean;
}

/** Options of {@link BatchSigner}. */
export interface BatchSignerOptions {
  /** Sign as soon as this many digests wait (default 256). */
  maxBatch?: number;
  /** …or once the oldest has waited this long (default 2 ms). */
  maxDelayMs?: number;
  /** Context bound into every signature. */
  ctx?: Uint8Array;
  /**
   * Publishes a batch's signature once (e.g. to a KV bucket keyed by root), so messages
   * carry only their proof. Resolves before any message of the batch is released.
   */
  publish?: (root: Uint8Array, signature: Uint8Array) => Promise<void>;
  /** Batches up to this size carry the signature inline (default 1: a lone message). */
  inlineMax?: number;
  /** Sign in a worker thread, so the event loop keeps publishing while a root is signed (default: when the compiled worker is present). */
  worker?: boolean;
}

interface Pending {
  digest: Uint8Array;
  resolve: (s: BatchSignature) => void;
  reject: (e: unknown) => void;
}

/**
 * Signs many messages with one composite signature: digests that arrive within a short
 * window (count- and time-bounded) become the leaves of a Merkle tree whose root is
 * signed once; each message gets its inclusion proof. A lone digest is signed alone
 * (its root is its leaf), so at low load a message waits about one signature.
 * While one batch is being signed, the next one fills, so throughput grows with load.
 */
export class BatchSigner {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private signing = false;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  /** Batches signed and messages covered, for metrics. */
  readonly stats = { batches: 0, messages: 0 };

  constructor(
    private readonly secretKey: Uint8Array,
    opts: BatchSignerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxDelayMs = opts.maxDelayMs ?? 2;
    this.ctx = opts.ctx;
    this.publish = opts.publish;
    this.inlineMax = opts.inlineMax ?? 1;
    if (opts.worker ?? WorkerSigner.available())
      this.worker = new WorkerSigner(secretKey, opts.ctx);
  }

  private readonly worker: WorkerSigner | undefined;
  private readonly publish: BatchSignerOptions['publish'];
  private readonly inlineMax: number;

  /** Stops the signing worker, if any. */
  async close(): Promise<void> {
    await this.worker?.close();
  }

  private readonly ctx: Uint8Array | undefined;

  /** Resolves with the batch signature covering `digest`. */
  sign(digest: Uint8Array): Promise<BatchSignature> {
    return new Promise((resolve, reject) => {
      this.queue.push({ digest, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flushSoon(0);
      else this.flushSoon(this.maxDelayMs);
    });
  }

  private flushSoon(delay: number): void {
    if (this.signing) return; // the running flush picks the queue up when it ends
    if (delay === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => this.flush());
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  private flush(): void {
    if (this.signing || !this.queue.length) return;
    this.signing = true;
    const batch = this.queue.splice(0, this.maxBatch);
    void this.signBatch(batch);
  }

  private async signBatch(batch: Pending[]): Promise<void> {
    let signed = false;
    try {
      const { root, proofs } = merkleTree(batch.map((p) => p.digest));
      const signature = this.worker
        ? await this.worker.sign(root)
        : compositeSign(this.secretKey, root, this.ctx);
      signed = true;
      // the next batch is signed while this one's signature is being stored
      this.nextBatch();
      this.stats.batches += 1;
      this.stats.messages += batch.length;
      const encoded = {
        root: Buffer.from(root).toString('base64'),
        signature: Buffer.from(signature).toString('base64'),
      };
      const inline = !this.publish || batch.length <= this.inlineMax;
      // a message referring to a stored signature leaves only once the signature is stored
      if (!inline) await this.publish?.(root, signature);
      batch.forEach((p, i) =>
        p.resolve({ root, signature, proof: proofs[i] as InclusionProof, encoded, inline }),
      );
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      if (!signed) this.nextBatch();
    }
  }

  private nextBatch(): void {
    this.signing = false;
    // what arrived while signing goes out at once: it has already waited one signature
    if (this.queue.length) setImmediate(() => this.flush());
  }
}
