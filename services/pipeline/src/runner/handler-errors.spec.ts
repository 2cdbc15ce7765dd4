import { isRetryableError, PermanentError, RetryableError } from '@heady/bus';
import { createLogger } from '@heady/telemetry';
import { describe, expect, it } from 'vitest';
import { outageAsRetry, withTimeout } from './handler-errors.js';

const log = createLogger({ service: 'test', instanceId: 'test', logLevel: 'silent' });

describe('outageAsRetry', () => {
  it('turns PostgreSQL or NATS being unreachable into a retry', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const out = outageAsRetry(refused, log, 'r1');
    expect(isRetryableError(out)).toBe(true);
    expect((out as Error).cause).toBe(refused);
  });

  it('passes bus errors and the stage’s own failures through as they are', () => {
    for (const err of [new PermanentError('no'), new RetryableError('again'), new Error('bug')])
      expect(outageAsRetry(err, log, 'r1')).toBe(err);
  });
});

describe('withTimeout', () => {
  it('answers with the work that finishes in time, and fails retryably past the limit', async () => {
    await expect(withTimeout(50, 'quick', () => Promise.resolve(1))).resolves.toBe(1);
    const late = withTimeout(10, 'stage plan', () => new Promise(() => {}));
    await expect(late).rejects.toThrow('stage plan timed out after 10 ms');
    await late.catch((e: unknown) => expect(isRetryableError(e)).toBe(true));
  });
});
