import { setTimeout as sleep } from 'node:timers/promises';
import { type NatsConnection } from '@nats-io/transport-node';

/** A poller's wake-up call: see {@link nudgesOn}. */
export interface Nudges {
  /**
   * Resolves after `ms`, or as soon as a message arrives on the subject (at once if one came
   * since the last wait); rejects with the signal's reason when it aborts.
   */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Ends the subscription (an `UNSUB` to the server). */
  close(): void;
}

/**
 * A core-NATS subscription to `subject` that cuts a poller's sleep short: a loop that reads
 * the durable truth (PostgreSQL) and sleeps between reads waits with {@link Nudges.wait}, and
 * wakes as soon as something is published on `subject` (a JetStream publish reaches core
 * subscribers too). Messages are never read, decoded or trusted — a nudge only makes the
 * loop read again sooner — so a missed one costs only the rest of the sleep, and a forged one
 * only an extra read.
 */
export function nudgesOn(nc: NatsConnection, subject: string): Nudges {
  let pending = false;
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(subject, {
    callback: () => {
      pending = true;
      wake?.();
    },
  });
  return {
    async wait(ms, signal) {
      signal?.throwIfAborted();
      if (pending) {
        pending = false;
        return;
      }
      const cut = new AbortController();
      wake = () => cut.abort();
      const onAbort = () => cut.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await sleep(ms, undefined, { signal: cut.signal });
      } catch {
        // woken, or the caller's signal: told apart below
      } finally {
        wake = undefined;
        signal?.removeEventListener('abort', onAbort);
      }
      pending = false;
      signal?.throwIfAborted();
    },
    close() {
      sub.unsubscribe();
    },
  };
}
