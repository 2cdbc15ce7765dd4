import { isPermanentError, isRetryableError, RetryableError } from '@heady/bus';
import { type Logger } from '@heady/telemetry';
import { isUnavailable } from '@heady/contracts';

/** The message of whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a stage or compensation handler rethrows to the bus: permanent and retryable
 * errors as they are; PostgreSQL or NATS being unreachable (logged) as a RetryableError,
 * so an outage is redelivered and never counts as the stage's failure; anything else as
 * it is.
 */
export function outageAsRetry(err: unknown, log: Logger, runId: string): unknown {
  if (isPermanentError(err) || isRetryableError(err) || !isUnavailable(err)) return err;
  log.warn({ err, run_id: runId }, 'infrastructure unavailable; retrying');
  return new RetryableError(`infrastructure unavailable: ${String(err)}`, undefined, {
    cause: err,
  });
}

/** Runs `fn`, failing it (retryably, as "<what> timed out after <ms> ms") past `ms`. */
export async function withTimeout<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RetryableError(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
