import { describe, expect, it } from 'vitest';
import {
  BusErrorCode,
  DecodeError,
  PermanentError,
  PublishError,
  RemoteError,
  RetryableError,
  isBusError,
  isDecodeError,
  isPermanentError,
  isPublishError,
  isRemoteError,
  isRetryableError,
} from './errors.js';

describe('bus errors', () => {
  it('carry a code, a name and their cause', () => {
    const cause = new Error('socket closed');
    const e = new PublishError('pipeline.stage.plan', 'publish failed', { cause });
    expect(e).toMatchObject({
      code: BusErrorCode.PublishFailed,
      name: 'PublishError',
      subject: 'pipeline.stage.plan',
    });
    expect(e.cause).toBe(cause);
  });

  it('are told apart by their guards', () => {
    const all = [
      new PermanentError('p'),
      new RetryableError('r', 500),
      new DecodeError('d'),
      new PublishError('s', 'x'),
      new RemoteError('NOT_FOUND', 'gone', { id: 1 }),
    ];
    const row = (g: (e: unknown) => boolean): boolean[] => all.map(g);
    expect(row(isPermanentError)).toEqual([true, false, true, false, false]);
    expect(row(isDecodeError)).toEqual([false, false, true, false, false]);
    expect(row(isRetryableError)).toEqual([false, true, false, false, false]);
    expect(row(isPublishError)).toEqual([false, false, false, true, false]);
    expect(row(isRemoteError)).toEqual([false, false, false, false, true]);
    expect(row(isBusError)).toEqual([true, true, true, true, true]);
    expect(isBusError(new Error('plain'))).toBe(false);
  });

  it('keep a retry delay and a remote code with its details', () => {
    expect(new RetryableError('later', 1500).delayMs).toBe(1500);
    expect(new RemoteError('VALIDATION_FAILED', 'bad', { field: 'n' })).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { field: 'n' },
    });
    expect(new DecodeError('x').code).toBe(BusErrorCode.Permanent);
  });
});
