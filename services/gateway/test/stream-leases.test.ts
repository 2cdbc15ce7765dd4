import { loadGatewayConfig } from '@heady/config';
import { createLogger } from '@heady/telemetry';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamLeasesRepository } from '../src/runs/stream-leases.repository.js';

// Two repositories on one Redis are two gateway replicas: the cap is the key's, not a process's.
describe(StreamLeasesRepository.name, () => {
  const config = loadGatewayConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HEADY_REDIS_PREFIX: `heady-test:${randomBytes(4).toString('hex')}:`,
  });
  const log = createLogger({ ...config, logLevel: 'silent' });
  const a = new StreamLeasesRepository(config, log);
  const b = new StreamLeasesRepository(config, log);

  beforeAll(async () => {
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
  });

  afterAll(async () => {
    await a.onModuleDestroy();
    await b.onModuleDestroy();
  });

  it('caps the streams of one API key across gateways sharing Redis', async () => {
    const taken = [
      await a.acquire('key-1', 3),
      await b.acquire('key-1', 3),
      await a.acquire('key-1', 3),
    ];
    expect(taken.every(Boolean)).toBe(true);
    expect(await b.acquire('key-1', 3)).toBeUndefined();
    expect(await a.acquire('key-1', 3)).toBeUndefined();
    // another key has slots of its own
    expect(await b.acquire('key-2', 3)).toBeDefined();
  });

  it('gives a released slot to the next stream at once, on any gateway, and releases only once', async () => {
    const first = await a.acquire('key-3', 1);
    expect(first).toBeDefined();
    expect(await b.acquire('key-3', 1)).toBeUndefined();
    await first?.release();
    await first?.release();
    const second = await b.acquire('key-3', 1);
    expect(second).toBeDefined();
    expect(await a.acquire('key-3', 1)).toBeUndefined();
  });
});
