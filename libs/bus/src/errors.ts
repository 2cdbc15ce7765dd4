import { isUnavailable } from '@heady/contracts';

/** Codes of the errors the bus raises. */
export const BusErrorCode = {
  Permanent: 'PERMANENT',
  Retryable: 'RETRYABLE',
  PublishFailed: 'PUBLISH_FAILED',
  Decode: 'DECODE',
  Remote: 'REMOTE',
  Unavailable: 'UNAVAILABLE',
  ReplayRefused: 'REPLAY_REFUSED',
} as const;
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

/** Base of the bus's errors: a stable `code` and the `cause`. */
export class BusError extends Error {
  override readonly name: string = 'BusError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The handler will never succeed with this message: copy it to DLQ with the reason and `term()` it; no retry. */
export class PermanentError extends BusError {
  override readonly name: string = 'PermanentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(BusErrorCode.Permanent, message, options);
  }
}

/** Try again later: `nak(delayMs)` (or the consumer's backoff when no delay is given). */
export class RetryableError extends BusError {
  override readonly name = 'RetryableError';
  constructor(
    message: string,
    readonly delayMs?: number,
    options?: { cause?: unknown },
  ) {
    super(BusErrorCode.Retryable, message, options);
  }
}

/** The payload cannot be decoded (unknown content type or message type, corrupt bytes): a poison message. */
export class DecodeError extends PermanentError {
  override readonly name = 'DecodeError';
}

/** JetStream did not acknowledge a publish (server unreachable, timeout, stream missing). */
export class PublishError extends BusError {
  override readonly name = 'PublishError';
  constructor(
    readonly subject: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(BusErrorCode.PublishFailed, message, options);
  }
}

/** A request/reply handler answered with an error, or no handler answered (`code` UNAVAILABLE). */
export class RemoteError extends BusError {
  override readonly name = 'RemoteError';
  constructor(
    code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A stored message that will not be re-published (replay or DLQ redrive): its original
 * signature chain does not verify (`reason`, a verifier RejectReason), so an operator
 * signature would launder it. Inspect it and drop it instead.
 */
export class ReplayRefusedError extends BusError {
  override readonly name = 'ReplayRefusedError';
  constructor(
    readonly stream: string,
    readonly seq: number,
    readonly reason: string,
    detail: string,
  ) {
    super(
      BusErrorCode.ReplayRefused,
      `refusing to re-sign ${stream}/${seq}: its original signature does not verify (${reason}: ${detail}); inspect it with heady dlq show and drop it`,
    );
  }
}

/** Any error raised by the bus (has a `code` from {@link BusErrorCode} or a remote code). */
export function isBusError(e: unknown): e is BusError {
  return e instanceof BusError;
}
/** A poison message: nothing will ever decode it (also a {@link PermanentError}). */
export function isDecodeError(e: unknown): e is DecodeError {
  return e instanceof DecodeError;
}
/** Goes to DLQ without retries (includes {@link DecodeError}). */
export function isPermanentError(e: unknown): e is PermanentError {
  return e instanceof PermanentError;
}
/** Retried with `nak(delayMs ?? backoff)`. */
export function isRetryableError(e: unknown): e is RetryableError {
  return e instanceof RetryableError;
}
/** JetStream did not acknowledge a publish. */
export function isPublishError(e: unknown): e is PublishError {
  return e instanceof PublishError;
}
/** A request/reply call failed remotely or found nobody to answer. */
export function isRemoteError(e: unknown): e is RemoteError {
  return e instanceof RemoteError;
}
/** A stored message whose original signature does not verify: not re-published. */
export function isReplayRefusedError(e: unknown): e is ReplayRefusedError {
  return e instanceof ReplayRefusedError;
}

/**
 * What a handler rethrows to the bus: permanent and retryable errors as they are; PostgreSQL,
 * NATS or Redis being unreachable as a RetryableError (after `onOutage`, to log it), so an
 * outage is redelivered and never counts as the message's own failure; anything else as it is.
 */
export function outageAsRetry(err: unknown, onOutage?: (err: unknown) => void): unknown {
  if (isPermanentError(err) || isRetryableError(err) || !isUnavailable(err)) return err;
  onOutage?.(err);
  return new RetryableError(`infrastructure unavailable: ${String(err)}`, undefined, {
    cause: err,
  });
}
