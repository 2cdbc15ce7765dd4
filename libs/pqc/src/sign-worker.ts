// Worker thread that holds one composite secret key and signs Merkle roots, so the
// ~7 ms of ML-DSA-65 work per batch does not stall the publisher's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { compositeSign } from './composite.js';

const { secretKey, ctx } = workerData as { secretKey: Uint8Array; ctx?: Uint8Array };

parentPort?.on('message', (m: { id: number; message: Uint8Array }) => {
  try {
    parentPort?.postMessage({ id: m.id, signature: compositeSign(secretKey, m.message, ctx) });
  } catch (e) {
    parentPort?.postMessage({ id: m.id, error: (e as Error).message });
  }
});
