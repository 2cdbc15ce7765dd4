import { type BusConnection, decode, Header } from '@heady/bus';

/** A message stored in a stream: its sequence, subject, msg id and decoded payload. */
export interface Stored<T> {
  seq: number;
  subject: string;
  msgId: string | undefined;
  payload: T;
}

/**
 * Every message of `stream` on `subject` (wildcards allowed) so far, in stream order, read by
 * a short-lived consumer of the test's own.
 */
export async function storedOn<T>(
  bus: BusConnection,
  stream: string,
  subject: string,
): Promise<Stored<T>[]> {
  const ci = await bus.jsm.consumers.add(stream, {
    filter_subject: subject,
    ack_policy: 'none',
    deliver_policy: 'all',
    inactive_threshold: 10_000_000_000,
  });
  try {
    const n = ci.num_pending;
    const out: Stored<T>[] = [];
    if (!n) return out;
    const c = await bus.js.consumers.get(stream, ci.name);
    for await (const m of await c.fetch({ max_messages: n, expires: 2_000 })) {
      out.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.headers?.get(Header.MsgId),
        payload: decode(m.headers?.get(Header.ContentType), m.data) as T,
      });
      if (out.length === n) break;
    }
    return out;
  } finally {
    await bus.jsm.consumers.delete(stream, ci.name).catch(() => undefined);
  }
}

/** What `eventually` returns: the value once truthy. */
type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Waits until `fn` returns a truthy value, and returns it. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Resolves once consumer `durable` of `stream` has delivered everything up to stream sequence
 * `seq` and holds no delivery unacknowledged: the handler settled that message.
 */
export async function settledUpTo(
  bus: BusConnection,
  stream: string,
  durable: string,
  seq: number,
): Promise<void> {
  await eventually(async () => {
    const ci = await bus.jsm.consumers.info(stream, durable);
    return ci.delivered.stream_seq >= seq && ci.num_ack_pending === 0;
  });
}
