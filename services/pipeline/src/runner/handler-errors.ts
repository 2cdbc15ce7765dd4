import { outageAsRetry as busOutageAsRetry, RetryableError } from '@heady/bus';
import { type Logger } from '@heady/telemetry';

/** The message of whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a stage or compensation handler rethrows to the bus (see `outageAsRetry` in
 * libs/bus), logging an outage against its run.
 */
export function outageAsRetry(err: unknown, log: Logger, runId: string): unknown {
  return busOutageAsRetry(err, (e) =>
    log.warn({ err: e, run_id: runId }, 'infrastructure unavailable; retrying'),
  );
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
