import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const WORKER_FILE = new URL('./sign-worker.js', import.meta.url);

type Pending = { resolve: (s: Uint8Array) => void; reject: (e: Error) => void };

/**
 * Signs with a composite secret key in a worker thread. The key is handed to the
 * worker once; each request posts the message and resolves with the signature.
 * A worker that dies (an error, an exit) fails the signatures it was working on and is
 * replaced at once, so the signatures asked for afterwards are made by the new one.
 */
export class WorkerSigner {
  /** False when running from TypeScript sources (tests), where the compiled worker is absent. */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_FILE));
  }

  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private closing = false;
  /** Workers started after one died, for metrics and tests. */
  restarts = 0;

  constructor(
    private readonly secretKey: Uint8Array,
    private readonly ctx?: Uint8Array,
  ) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_FILE, {
      workerData: { secretKey: this.secretKey, ctx: this.ctx },
    });
    worker.unref();
    worker.on('message', (m: { id: number; signature?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!p) return;
      if (m.signature) p.resolve(new Uint8Array(m.signature));
      else p.reject(new Error(m.error ?? 'signing failed'));
    });
    worker.on('error', (e) => this.failPending(e));
    worker.on('exit', (code) => {
      if (this.closing || worker !== this.worker) return;
      this.failPending(new Error(`the signing worker exited (code ${code})`));
      this.restarts += 1;
      this.worker = this.spawn();
    });
    return worker;
  }

  private failPending(e: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(e);
  }

  /** Resolves with the signature; rejects when the worker dies before answering. */
  sign(message: Uint8Array): Promise<Uint8Array> {
    if (this.closing) return Promise.reject(new Error('the signing worker is closed'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, message });
    });
  }

  /** Stops the worker (its copy of the key goes with it). */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    this.failPending(new Error('the signing worker is closed'));
  }
}
