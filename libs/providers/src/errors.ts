/**
 * What went wrong with a provider call, as a caller decides on it:
 * - `rate_limited`: HTTP 429; wait `retryAfterMs` or move to another provider.
 * - `unavailable`: 5xx, unreachable, a broken or malformed answer; counts toward the breaker.
 * - `timeout`: the call's deadline passed; counts toward the breaker.
 * - `aborted`: the caller's signal aborted the call.
 * - `bad_request`: the provider rejected the request itself (400, 404, 413, 422).
 * - `auth`: the provider refused our credentials (401, 403).
 * - `unsupported`: this provider cannot do that (e.g. Anthropic embeddings).
 */
export const ProviderErrorKind = {
  RateLimited: 'rate_limited',
  Unavailable: 'unavailable',
  Timeout: 'timeout',
  Aborted: 'aborted',
  BadRequest: 'bad_request',
  Auth: 'auth',
  Unsupported: 'unsupported',
} as const;
export type ProviderErrorKind = (typeof ProviderErrorKind)[keyof typeof ProviderErrorKind];

/** Options of {@link ProviderError}. */
export interface ProviderErrorOptions {
  /** The HTTP status the provider answered, when it answered. */
  status?: number;
  /** How long the provider asked us to wait (from `Retry-After` / `retry-after-ms`). */
  retryAfterMs?: number;
  /** The whole story (URL, response body) for logs; never shown to a client. */
  cause?: unknown;
}

/**
 * A provider call failed. The message is safe to show a client: it names the provider
 * instance and what happened, never the provider's URL, API key or response body — those
 * stay in `cause`, for the service's own logs.
 */
export class ProviderError extends Error {
  override readonly name: string = 'ProviderError';
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly kind: ProviderErrorKind,
    /** The provider instance's name. */
    readonly provider: string,
    message: string,
    options: ProviderErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** True for a {@link ProviderError}. */
export function isProviderError(e: unknown): e is ProviderError {
  return e instanceof ProviderError;
}

/** True for a {@link ProviderError} of kind `rate_limited`. */
export function isRateLimited(e: unknown): e is ProviderError & { kind: 'rate_limited' } {
  return isProviderError(e) && e.kind === ProviderErrorKind.RateLimited;
}

/** The kind a provider's HTTP status maps to. */
export function kindOfStatus(status: number): ProviderErrorKind {
  if (status === 429) return ProviderErrorKind.RateLimited;
  if (status === 401 || status === 403) return ProviderErrorKind.Auth;
  if (status === 408) return ProviderErrorKind.Timeout;
  if (status >= 400 && status < 500) return ProviderErrorKind.BadRequest;
  return ProviderErrorKind.Unavailable;
}
