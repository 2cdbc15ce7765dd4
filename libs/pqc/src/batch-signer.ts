import { compositeSign } from './composite.js';
import { type InclusionProof, merkleTree } from './merkle.js';

/** What a message carries to prove it was signed: the signed root, its signature and the message's path to it. */
export interface BatchSignature {
  root: Uint8Array;
  signature: Uint8Array;
  proof: InclusionProof;
}

/** Options of {@link BatchSigner}. */
export interface BatchSignerOptions {
  /** Sign as soon as this many digests wait (default 256). */
  maxBatch?: number;
  /** …or once the oldest has waited this long (default 2 ms). */
  maxDelayMs?: number;
  /** Context bound into every signature. */
  ctx?: Uint8Array;
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
    try {
      const { root, proofs } = merkleTree(batch.map((p) => p.digest));
      const signature = compositeSign(this.secretKey, root, this.ctx);
      this.stats.batches += 1;
      this.stats.messages += batch.length;
      batch.forEach((p, i) => p.resolve({ root, signature, proof: proofs[i] as InclusionProof }));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.signing = false;
      // what arrived while signing goes out at once: it has already waited one signature
      if (this.queue.length) setImmediate(() => this.flush());
    }
  }
}
