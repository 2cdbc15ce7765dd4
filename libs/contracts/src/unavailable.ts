/**
 * A dependency (PostgreSQL, NATS, Redis, DuckDB, a model provider) could not be reached or
 * did not answer in time. Repositories raise it at their edge (`rethrowUnavailable`), so
 * callers decide on a type, not on an error message: the pipeline retries the delivery
 * later without counting it as the stage's failure, the gateway answers 503.
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';

  constructor(
    /** What was unreachable: `postgres`, `nats`, `redis`, `duckdb`, a provider's name. */
    readonly dependency: string,
    options: { cause?: unknown } = {},
  ) {
    const cause = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`${dependency} is unavailable${cause}`, options);
  }
}

/** PostgreSQL SQLSTATEs and socket codes that mean "unreachable now", not "this failed". */
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
  '53300', // too_many_connections
]);

// What pg, its pool, nats.js and ioredis (a fail-fast connection: no offline queue, a
// command timeout) say when the peer is away; their errors carry no code.
const MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|CONNECTION_CLOSED|CONNECTION_REFUSED|DISCONNECT|PublishError|JetStream .*(not|un)available|no responders|Connection is closed\.|Stream isn't writeable|Command timed out|max retries per request/i;

/**
 * Whether `err` (or its cause) is a dependency being unreachable: an `UnavailableError`, or
 * what the PostgreSQL and NATS clients throw when their server is away. This is the one
 * place that reads client error codes and messages.
 */
export function isUnavailable(err: unknown, depth = 0): boolean {
  if (err instanceof UnavailableError) return true;
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (e.name === 'PublishError') return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  if (e instanceof AggregateError) return e.errors.some((x) => isUnavailable(x, depth + 1));
  return isUnavailable(e.cause, depth + 1);
}

/** Rethrows `err` as an `UnavailableError` of `dependency` when it is one, unchanged otherwise. */
export function rethrowUnavailable(err: unknown, dependency: string): never {
  if (err instanceof UnavailableError) throw err;
  if (isUnavailable(err)) throw new UnavailableError(dependency, { cause: err });
  throw err;
}
