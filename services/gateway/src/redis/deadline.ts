/** Thrown by {@link withDeadline} when the answer did not come in time. */
export class DeadlineExceededError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/**
 * Resolves with `work` unless it is still pending `ms` after the call, then rejects with
 * {@link DeadlineExceededError}. Unlike a bare timer (and ioredis' `commandTimeout`), the
 * deadline gives I/O that is already waiting one turn of the event loop before it gives up:
 * when the process itself is behind (a burst on a busy core), the timer fires in the timers
 * phase, before the poll phase reads a reply that arrived long ago. Giving up then would
 * count a request in Redis *and* admit it through the fallback. Checking again from
 * `setImmediate` (after the poll phase) gives up only when the answer really is not there.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(new DeadlineExceededError(ms));
      });
    }, ms);
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
