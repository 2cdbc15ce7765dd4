import { describe, expect, it } from 'vitest';
import { DecodeError, PermanentError, RetryableError } from '../errors.js';
import { failureOutcome, isNestGenericRpcError } from './settlement.js';

const spec = { maxDeliver: 4, backoffMs: [100, 1000] };

describe('failureOutcome', () => {
  it('dead-letters a PermanentError or undecodable payload on the first delivery', () => {
    expect(failureOutcome(new PermanentError('bad input'), 1, spec)).toEqual({
      action: 'dlq',
      reason: 'bad input',
    });
    expect(failureOutcome(new DecodeError('unknown type'), 1, spec).action).toBe('dlq');
  });

  it('naks other errors with the backoff of the delivery count, repeating the last entry', () => {
    const delays = [1, 2, 3].map((n) => failureOutcome(new Error('x'), n, spec));
    expect(delays.map((o) => (o.action === 'nak' ? o.delayMs : -1))).toEqual([100, 1000, 1000]);
  });

  it("honours a RetryableError's own delay", () => {
    expect(failureOutcome(new RetryableError('busy', 7000), 1, spec)).toMatchObject({
      action: 'nak',
      delayMs: 7000,
    });
  });

  it('dead-letters on the last delivery, saying why', () => {
    expect(failureOutcome(new RetryableError('busy', 10), 4, spec)).toEqual({
      action: 'dlq',
      reason: 'max deliveries (4) exhausted: busy',
    });
  });

  it('treats thrown non-errors as retryable', () => {
    expect(failureOutcome('boom', 1, spec)).toEqual({
      action: 'nak',
      delayMs: 100,
      reason: 'boom',
    });
  });
});

describe('isNestGenericRpcError', () => {
  it("recognises what Nest's default filter makes of an error", () => {
    expect(isNestGenericRpcError({ status: 'error', message: 'Internal server error' })).toBe(true);
    expect(isNestGenericRpcError(new Error('Internal server error'))).toBe(false);
  });
});
