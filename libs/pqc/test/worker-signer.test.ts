import { type Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { compositeKeygen, compositeVerify } from '../src/index.js';
// the built signer: its worker thread runs the compiled sign-worker.js beside it
import { WorkerSigner } from '../dist/worker-signer.js';

const enc = new TextEncoder();

describe(WorkerSigner.name, () => {
  it('replaces a signing worker that died: what it held fails, what comes after is signed', async () => {
    const { publicKey, secretKey } = compositeKeygen();
    const signer = new WorkerSigner(secretKey);
    try {
      expect(compositeVerify(publicKey, enc.encode('a'), await signer.sign(enc.encode('a')))).toBe(
        true,
      );
      // the worker thread dies with signatures in flight (as on an uncaught error or OOM)
      const worker = (signer as unknown as { worker: Worker }).worker;
      const held = Array.from({ length: 50 }, (_, i) => signer.sign(enc.encode(`held ${i}`)));
      await worker.terminate();
      // every one settles (none waits forever); those the worker had not answered fail
      const settled = await Promise.allSettled(held);
      const failed = settled.filter((r) => r.status === 'rejected');
      expect(failed.length).toBeGreaterThan(0);
      for (const r of failed) expect(String(r.reason)).toMatch(/exited/);
      // new signatures go to a new worker, with the same key
      const sig = await Promise.race([
        signer.sign(enc.encode('d')),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no signature after the restart')), 5_000),
        ),
      ]);
      expect(compositeVerify(publicKey, enc.encode('d'), sig)).toBe(true);
      expect(signer.restarts).toBe(1);
    } finally {
      await signer.close();
    }
  });
});
