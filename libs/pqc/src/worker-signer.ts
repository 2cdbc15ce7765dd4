import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const WORKER_FILE = new URL('./sign-worker.js', import.meta.url);

/**
 * Signs with a composite secret key in a worker thread. The key is handed to the
 * worker once; each request posts the message and resolves with the signature.
 */
export class WorkerSigner {
  /** False when running from TypeScript sources (tests), where the compiled worker is absent. */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_FILE));
  }

  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (s: Uint8Array) => void; reject: (e: Error) => void }
  >();
  private next = 0;

  constructor(secretKey: Uint8Array, ctx?: Uint8Array) {
    this.worker = new Worker(WORKER_FILE, { workerData: { secretKey, ctx } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; signature?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!p) return;
      if (m.signature) p.resolve(new Uint8Array(m.signature));
      else p.reject(new Error(m.error ?? 'signing failed'));
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, message });
    });
  }

  /** Stops the worker (its copy of the key goes with it). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
