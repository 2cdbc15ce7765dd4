import { describe, expect, it } from 'vitest';
import { requestHash } from './runs.service.js';

describe('requestHash', () => {
  it('is the same whatever the key order', () => {
    expect(requestHash({ action: 'chat', input: { a: 1, b: [1, { c: 2, d: 3 }] } })).toBe(
      requestHash({ input: { b: [1, { d: 3, c: 2 }], a: 1 }, action: 'chat' }),
    );
  });
  it('differs when any value differs', () => {
    expect(requestHash({ action: 'chat', input: { a: 1 } })).not.toBe(
      requestHash({ action: 'chat', input: { a: 2 } }),
    );
    expect(requestHash({ action: 'chat', input: {} })).not.toBe(
      requestHash({ action: 'chat', input: {}, sessionId: 's' }),
    );
  });
});
