import { describe, expect, it } from 'vitest';
import { isUnavailable, rethrowUnavailable, UnavailableError } from './unavailable.js';

describe('UnavailableError', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
  });

  it('classifies client errors of an unreachable server, through causes', () => {
    expect(isUnavailable(refused)).toBe(true);
    expect(isUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isUnavailable(new AggregateError([new Error('no'), refused]))).toBe(true);
    expect(isUnavailable(new UnavailableError('redis'))).toBe(true);
  });

  it('classifies what ioredis rejects a command with while Redis is away', () => {
    for (const message of [
      'Connection is closed.',
      "Stream isn't writeable and enableOfflineQueue options is false",
      'Command timed out',
      'Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.',
    ])
      expect(isUnavailable(new Error(message)), message).toBe(true);
    expect(isUnavailable(new Error('ERR Error running script: attempt to index nil'))).toBe(false);
  });

  it('does not take a failed statement or a plain error for an outage', () => {
    expect(isUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUnavailable(new Error('boom'))).toBe(false);
    expect(isUnavailable('ECONNREFUSED')).toBe(false);
  });

  it('rethrows an outage typed with its dependency and anything else unchanged', () => {
    let thrown: unknown;
    try {
      rethrowUnavailable(refused, 'postgres');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UnavailableError);
    expect((thrown as UnavailableError).dependency).toBe('postgres');
    expect((thrown as UnavailableError).cause).toBe(refused);
    const other = new Error('boom');
    expect(() => rethrowUnavailable(other, 'postgres')).toThrow(other);
  });
});
