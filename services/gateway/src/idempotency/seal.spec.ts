import { describe, expect, it } from 'vitest';
import { fingerprint, seal, unseal } from './seal.js';

describe('seal', () => {
  it('opens only with the API key and Idempotency-Key it was sealed under', () => {
    const s = seal({ key: 'hk_secret', id: 1 }, 'hk_caller', 'idem-1');
    expect(s).not.toContain('hk_secret');
    expect(unseal(s, 'hk_caller', 'idem-1')).toEqual({ key: 'hk_secret', id: 1 });
    expect(() => unseal(s, 'hk_other', 'idem-1')).toThrow();
    expect(() => unseal(s, 'hk_caller', 'idem-2')).toThrow();
  });

  it('fingerprints bodies by their canonical JSON', () => {
    expect(fingerprint({ a: 1, b: [1, 2] })).toBe(fingerprint({ b: [1, 2], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
    expect(fingerprint(undefined)).toBe(fingerprint(null));
  });
});
