/**
 * Domain errors shared by every service. Services throw these; the edge maps them —
 * the gateway to RFC 9457 problem+json, the bus to a `Heady-Error` reply — so no
 * service ever throws an HTTP exception.
 */
export const ErrorCode = {
  /** The request is malformed or fails its schema. HTTP 400 (malformed) / 422 (semantic). */
  ValidationFailed: 'VALIDATION_FAILED',
  /** The body is not parseable JSON. HTTP 400. */
  MalformedBody: 'MALFORMED_BODY',
  /** No service group serves this action. HTTP 422. */
  UnknownAction: 'UNKNOWN_ACTION',
  /** An Idempotency-Key was reused with a different request body. HTTP 422. */
  IdempotencyConflict: 'IDEMPOTENCY_CONFLICT',
  /** The run does not exist. HTTP 404. */
  RunNotFound: 'RUN_NOT_FOUND',
  /** The request is valid but there is not yet enough data to answer it. HTTP 409. */
  InsufficientData: 'INSUFFICIENT_DATA',
  /** The run already ended another way (e.g. a cancel after it succeeded). HTTP 409. */
  RunEnded: 'RUN_ENDED',
  /** A dependency (NATS, PostgreSQL) is unreachable; retry later. HTTP 503. */
  Unavailable: 'UNAVAILABLE',
  /** No credentials, or an unknown or revoked API key. HTTP 401. */
  Unauthenticated: 'UNAUTHENTICATED',
  /** The caller's clearance is below the route's access class. HTTP 403. */
  Forbidden: 'FORBIDDEN',
  /** The API key does not exist (or belongs to another organization). HTTP 404. */
  ApiKeyNotFound: 'API_KEY_NOT_FOUND',
  /** The caller's rate limit is used up; retry after `retryAfter` seconds. HTTP 429. */
  RateLimited: 'RATE_LIMITED',
  /** The caller (IP or organization) is banned until `until` for ignoring its 429s. HTTP 403. */
  Banned: 'BANNED',
  /** A request with the same Idempotency-Key is still being processed. HTTP 409. */
  IdempotencyInFlight: 'IDEMPOTENCY_IN_FLIGHT',
  /** The API key already holds as many open event streams as it may. HTTP 429. */
  TooManyStreams: 'TOO_MANY_STREAMS',
  /** A part of the request is over its size limit (a run's input over the ingest limit). HTTP 413. */
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** `/v1`: no service group or action answers to that model name. HTTP 404. */
  ModelNotFound: 'MODEL_NOT_FOUND',
  /** The run behind a synchronous answer ended without one (failed, compensated, cancelled). HTTP 502. */
  RunFailed: 'RUN_FAILED',
  /** The run behind a synchronous answer did not end within the wait; it goes on. HTTP 504. */
  AnswerTimeout: 'ANSWER_TIMEOUT',
  /** The vault document does not exist (or belongs to another organization). HTTP 404. */
  DocumentNotFound: 'DOCUMENT_NOT_FOUND',
  /** A Stripe webhook whose `Stripe-Signature` is missing, wrong or too old. HTTP 400. */
  WebhookSignatureInvalid: 'WEBHOOK_SIGNATURE_INVALID',
  /** The organization has no Stripe customer yet (no checkout was ever started). HTTP 409. */
  BillingCustomerNotFound: 'BILLING_CUSTOMER_NOT_FOUND',
  /** The organization's monthly budget cannot hold the run's estimated cost. HTTP 402. */
  BudgetExhausted: 'BUDGET_EXHAUSTED',
  /** The user has not granted the consent `scope` this needs. HTTP 403. */
  ConsentRequired: 'CONSENT_REQUIRED',
  /** No such user in the caller's organization. HTTP 404. */
  UserNotFound: 'USER_NOT_FOUND',
  /** No such device of the user. HTTP 404. */
  DeviceNotFound: 'DEVICE_NOT_FOUND',
  /** A device request's proof of possession is missing, wrong, stale, replayed or from a revoked device. HTTP 401. */
  DeviceProofInvalid: 'DEVICE_PROOF_INVALID',
  /** A sync blob is not a valid end-to-end encrypted envelope. HTTP 422. */
  EnvelopeInvalid: 'ENVELOPE_INVALID',
  /** A sync write names a head that is not the log's current one; `head` is. HTTP 409. */
  SyncConflict: 'SYNC_CONFLICT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN = new Set<string>(Object.values(ErrorCode));

/** Base class of every domain error: a stable `code`, a human message, structured details. */
export class HeadyError extends Error {
  override readonly name: string = 'HeadyError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a {@link HeadyError}, or anything shaped like one that crossed the bus. */
export function isHeadyError(
  e: unknown,
): e is { code: ErrorCode; message: string; details?: Record<string, unknown> } {
  return typeof e === 'object' && e !== null && KNOWN.has((e as { code?: unknown }).code as string);
}

export class UnknownActionError extends HeadyError {
  override readonly name = 'UnknownActionError';
  constructor(action: string, validActions: string[]) {
    super(
      ErrorCode.UnknownAction,
      `unknown action "${action}"; valid actions: ${validActions.join(', ')}`,
      {
        action,
        validActions,
      },
    );
  }
}

export class IdempotencyConflictError extends HeadyError {
  override readonly name = 'IdempotencyConflictError';
  /** `runId`: the run the key already started, when the key belongs to a run. */
  constructor(key: string, runId?: string) {
    super(
      ErrorCode.IdempotencyConflict,
      `Idempotency-Key "${key}" was already used with a different request body`,
      runId === undefined ? { idempotencyKey: key } : { idempotencyKey: key, runId },
    );
  }
}

export class RunNotFoundError extends HeadyError {
  override readonly name = 'RunNotFoundError';
  constructor(runId: string) {
    super(ErrorCode.RunNotFound, `run ${runId} does not exist`, { runId });
  }
}

export class UnauthenticatedError extends HeadyError {
  override readonly name = 'UnauthenticatedError';
  constructor(reason: string) {
    super(ErrorCode.Unauthenticated, reason);
  }
}

export class ForbiddenError extends HeadyError {
  override readonly name = 'ForbiddenError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Forbidden, message, details);
  }
}

export class ApiKeyNotFoundError extends HeadyError {
  override readonly name = 'ApiKeyNotFoundError';
  constructor(id: string) {
    super(ErrorCode.ApiKeyNotFound, `API key ${id} does not exist`, { id });
  }
}

export class RateLimitedError extends HeadyError {
  override readonly name = 'RateLimitedError';
  constructor(policy: string, limit: number, windowSeconds: number, retryAfter: number) {
    super(
      ErrorCode.RateLimited,
      `rate limit of ${limit} requests per ${windowSeconds} s (${policy}) exceeded; retry after ${retryAfter} s`,
      { policy, limit, windowSeconds, retryAfter },
    );
  }
}

export class RunEndedError extends HeadyError {
  override readonly name = 'RunEndedError';
  constructor(runId: string, status: string) {
    super(ErrorCode.RunEnded, `run ${runId} already ended ${status}`, { runId, runStatus: status });
  }
}

export class IdempotencyInFlightError extends HeadyError {
  override readonly name = 'IdempotencyInFlightError';
  constructor(key: string) {
    super(
      ErrorCode.IdempotencyInFlight,
      `a request with Idempotency-Key "${key}" is still being processed; retry once it has finished`,
      { idempotencyKey: key },
    );
  }
}

export class BannedError extends HeadyError {
  override readonly name = 'BannedError';
  /** `until`: when the ban expires; `subject`: `ip:<address>` or `org:<id>`. */
  constructor(subject: string, until: Date, retryAfter: number) {
    super(
      ErrorCode.Banned,
      `${subject.startsWith('ip:') ? 'this address' : 'this organization'} is banned until ${until.toISOString()} for sending on after its rate limit was exceeded`,
      { subject, until: until.toISOString(), retryAfter },
    );
  }
}

export class TooManyStreamsError extends HeadyError {
  override readonly name = 'TooManyStreamsError';
  /** `limit`: open event streams one API key may hold; `retryAfter`: seconds, a hint. */
  constructor(limit: number, retryAfter: number) {
    super(
      ErrorCode.TooManyStreams,
      `this API key already has ${limit} open event streams; close one (or wait for one to end) and retry`,
      { limit, retryAfter },
    );
  }
}

export class DocumentNotFoundError extends HeadyError {
  override readonly name = 'DocumentNotFoundError';
  constructor(documentId: string) {
    super(ErrorCode.DocumentNotFound, `document ${documentId} does not exist`, { documentId });
  }
}

export class WebhookSignatureInvalidError extends HeadyError {
  override readonly name = 'WebhookSignatureInvalidError';
  /** `reason`: what the Stripe SDK's verification said (no secret, no payload). */
  constructor(reason: string) {
    super(ErrorCode.WebhookSignatureInvalid, `the Stripe-Signature does not verify: ${reason}`, {
      reason,
    });
  }
}

export class ConsentRequiredError extends HeadyError {
  override readonly name = 'ConsentRequiredError';
  /** `scope`: the consent the user has not granted. */
  constructor(scope: string) {
    super(
      ErrorCode.ConsentRequired,
      `this needs the user's ${scope} consent, which is not granted`,
      {
        scope,
      },
    );
  }
}

export class UserNotFoundError extends HeadyError {
  override readonly name = 'UserNotFoundError';
  constructor(userId: string) {
    super(ErrorCode.UserNotFound, `user ${userId} does not exist in this organization`, { userId });
  }
}

export class DeviceNotFoundError extends HeadyError {
  override readonly name = 'DeviceNotFoundError';
  constructor(deviceId: string) {
    super(ErrorCode.DeviceNotFound, `device ${deviceId} does not exist for this user`, {
      deviceId,
    });
  }
}

export class BillingCustomerNotFoundError extends HeadyError {
  override readonly name = 'BillingCustomerNotFoundError';
  constructor(orgId: string) {
    super(
      ErrorCode.BillingCustomerNotFound,
      'this organization has no billing customer yet; start a checkout first',
      { orgId },
    );
  }
}

export class BudgetExhaustedError extends HeadyError {
  override readonly name = 'BudgetExhaustedError';
  /** The month's numbers, in US dollars: credits, committed, reserved, and the run's estimate. */
  constructor(n: {
    creditsUsd: number;
    committedUsd: number;
    reservedUsd: number;
    estimateUsd: number;
  }) {
    super(
      ErrorCode.BudgetExhausted,
      `the monthly budget of $${n.creditsUsd} cannot hold this run's estimated $${n.estimateUsd} ($${n.committedUsd} committed, $${n.reservedUsd} reserved by runs in flight)`,
      { ...n, availableUsd: Math.max(0, n.creditsUsd - n.committedUsd - n.reservedUsd) },
    );
  }
}

export class DeviceProofInvalidError extends HeadyError {
  override readonly name = 'DeviceProofInvalidError';
  /** `reason`: missing, unknown-device, revoked, stale, replayed or bad-signature. */
  constructor(reason: string, message: string) {
    super(ErrorCode.DeviceProofInvalid, message, { reason });
  }
}

export class EnvelopeInvalidError extends HeadyError {
  override readonly name = 'EnvelopeInvalidError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.EnvelopeInvalid, message, details);
  }
}

export class SyncConflictError extends HeadyError {
  override readonly name = 'SyncConflictError';
  /** `head`: the log's current head (`seq` 0 and the genesis hash when empty). */
  constructor(head: { seq: number; hash: string }) {
    super(
      ErrorCode.SyncConflict,
      `the sync log's head is ${head.seq}; pull, then write seq ${head.seq + 1} after ${head.hash}`,
      { head },
    );
  }
}
