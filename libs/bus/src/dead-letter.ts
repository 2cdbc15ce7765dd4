import { deadLetterSubject } from '@heady/contracts';
import {
  DeliverPolicy,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import {
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
  headers,
} from '@nats-io/transport-node';
import { type Logger, counter, gauge } from '@heady/telemetry';
import { Header, dlqMsgId } from './ids.js';
import { type ConsumerSpec } from './topology.js';

const deadLetters = counter(
  'heady_bus_dead_letters_total',
  'Messages copied to the DLQ stream, by reason class',
  ['stream', 'consumer', 'source', 'reason'],
);
const advisoriesRefused = counter(
  'heady_bus_dlq_advisories_refused_total',
  'Max-deliveries advisories not acted on: not about one of our consumers, or the message is gone',
  ['why'],
);
const dlqMessages = gauge(
  'heady_bus_dlq_messages',
  'Messages in the DLQ stream by reason class (rescanned periodically by one process)',
  ['reason'],
);

/**
 * The class of a dead-letter reason: a short, bounded label for metrics and the
 * `Heady-Dlq-Class` header: `rejected:<verifier reason>`, `max-deliveries`, `no-handler`,
 * or `handler` (a handler's permanent error or its retries exhausted).
 */
export function reasonClass(reason: string): string {
  const rejected = /^rejected \(([a-z-]{1,40})\)/.exec(reason);
  if (rejected) return `rejected:${rejected[1]}`;
  if (reason.startsWith('max deliveries')) return 'max-deliveries';
  if (reason.startsWith('no handler')) return 'no-handler';
  return 'handler';
}

/** The facts of the message being dead-lettered. */
export interface DeadLetterInput {
  stream: string;
  consumer: string;
  seq: number;
  subject: string;
  deliveries: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  reason: string;
  /** When JetStream stored the original (ms), kept for a redrive's freshness check. */
  storedAt?: number;
}

/**
 * Publishes the copy to `dlq.<stream>.<consumer>`: the original bytes and headers plus
 * `Heady-Dlq-*` headers with the reason. Its msg id `dlq:<stream>:<seq>` makes a second
 * copy of the same original (handler and advisory both) a no-op: `created` is false then.
 * The original's other `Nats-*` headers are not copied: they are instructions to JetStream
 * (`Nats-Expected-Stream`, `Nats-Expected-Last-Sequence`, `Nats-Rollup`, ...) that a forged
 * message can carry and that would make every copy fail.
 */
export async function copyToDlq(
  js: JetStreamClient,
  m: DeadLetterInput,
  source: 'handler' | 'advisory',
): Promise<{ created: boolean }> {
  const h = headers();
  for (const k of m.headers?.keys() ?? []) {
    const v = m.headers?.get(k);
    // the stored time is the DLQ writer's fact, never one the original's sender supplied
    if (v === undefined || k === Header.DlqStoredAt) continue;
    if (k.toLowerCase() === Header.MsgId.toLowerCase()) h.set(Header.DlqOriginalMsgId, v);
    else if (!/^nats-/i.test(k)) h.set(k, v);
  }
  const cls = reasonClass(m.reason);
  h.set(Header.DlqClass, cls);
  h.set(Header.DlqReason, m.reason.slice(0, 1000).replace(/[\r\n]+/g, ' '));
  h.set(Header.DlqStream, m.stream);
  h.set(Header.DlqConsumer, m.consumer);
  h.set(Header.DlqSeq, String(m.seq));
  h.set(Header.DlqSubject, m.subject);
  h.set(Header.DlqDeliveries, String(m.deliveries));
  h.set(Header.DlqAt, new Date().toISOString());
  if (m.storedAt !== undefined) h.set(Header.DlqStoredAt, String(m.storedAt));
  const ack = await js.publish(deadLetterSubject(m.stream, m.consumer), m.data, {
    msgID: dlqMsgId(m.stream, m.seq),
    headers: h,
  });
  if (!ack.duplicate)
    deadLetters.inc({ stream: m.stream, consumer: m.consumer, source, reason: cls });
  return { created: !ack.duplicate };
}

/** Dead-letters a delivered message (the handler's path). */
export function deadLetterDelivered(
  js: JetStreamClient,
  msg: JsMsg,
  spec: ConsumerSpec,
  reason: string,
): Promise<{ created: boolean }> {
  return copyToDlq(
    js,
    {
      stream: msg.info.stream,
      consumer: spec.durable,
      seq: msg.info.streamSequence,
      subject: msg.subject,
      deliveries: msg.info.deliveryCount,
      data: msg.data,
      headers: msg.headers,
      reason,
      storedAt: Math.floor(Number(msg.info.timestampNanos) / 1e6),
    },
    'handler',
  );
}

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/**
 * Listens for JetStream's max-deliveries advisories of `consumers` (queue group, so one
 * replica acts) and copies the message they name into DLQ. This catches messages whose
 * deliveries ran out without a handler deciding — ack timeouts of crashed consumers.
 * Advisories are unsigned: only the stream sequence is taken from one, and only when the
 * stream and consumer it names are the ones subscribed to; subject, headers and data come
 * from the stored message, and an advisory about a message that is not stored is ignored.
 */
export function watchMaxDeliveries(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  consumers: readonly ConsumerSpec[],
  log?: Logger,
): Subscription[] {
  return consumers.map((c) => {
    const sub = nc.subscribe(
      `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.stream}.${c.durable}`,
      { queue: 'heady-dlq' },
    );
    void (async () => {
      for await (const m of sub) {
        try {
          const a = m.json<Partial<MaxDeliveriesAdvisory>>();
          const seq = a.stream_seq;
          if (
            a.stream !== c.stream ||
            a.consumer !== c.durable ||
            typeof seq !== 'number' ||
            !Number.isSafeInteger(seq) ||
            seq < 1
          ) {
            advisoriesRefused.inc({ why: 'not-ours' });
            log?.warn(
              { stream: a.stream, consumer: a.consumer, seq, expected: c.durable },
              'ignored a max-deliveries advisory that is not about this consumer',
            );
            continue;
          }
          const stored = await jsm.streams.getMessage(c.stream, { seq }).catch(() => null);
          if (!stored) {
            advisoriesRefused.inc({ why: 'not-stored' });
            continue; // aged out already, or never existed
          }
          // the delivery count is the consumer's limit: the advisory's own count is not trusted
          const { created } = await copyToDlq(
            js,
            {
              stream: c.stream,
              consumer: c.durable,
              seq,
              subject: stored.subject,
              deliveries: c.maxDeliver,
              data: stored.data,
              headers: stored.header,
              storedAt: stored.time.getTime(),
              reason: `max deliveries (${c.maxDeliver}) exceeded without an ack`,
            },
            'advisory',
          );
          if (created)
            log?.warn(
              { stream: c.stream, consumer: c.durable, seq },
              'message copied to DLQ after max deliveries',
            );
        } catch (err) {
          log?.error({ err, consumer: c.durable }, 'could not dead-letter an advisory');
        }
      }
    })();
    return sub;
  });
}

/**
 * Keeps the gauge `heady_bus_dlq_messages{reason}` up to date: every `intervalMs`, counts
 * the DLQ stream's messages by their `Heady-Dlq-Class` header (headers only, one ordered
 * consumer). Run it in one process (the conductor's audit writer does). Returns a stop function.
 */
export function watchDlqGauge(
  bus: { nc: NatsConnection; js: JetStreamClient },
  intervalMs: number,
  log?: Logger,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let jsm: JetStreamManager | undefined;
  const scan = async (): Promise<void> => {
    jsm ??= await jetstreamManager(bus.nc);
    const counts = await countDlqByClass(bus.js, jsm);
    dlqMessages.reset();
    for (const [reason, n] of counts) dlqMessages.set({ reason }, n);
  };
  const loop = (): void => {
    if (stopped) return;
    scan()
      .catch((err: unknown) => log?.warn({ err }, 'could not count the DLQ'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs);
        timer?.unref();
      });
  };
  loop();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/** The DLQ stream's messages counted by reason class (headers only). */
export async function countDlqByClass(
  js: JetStreamClient,
  jsm: JetStreamManager,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const info = await jsm.streams.info('DLQ').catch(() => undefined);
  const last = info?.state.last_seq ?? 0;
  if (!info?.state.messages) return counts;
  const oc = await js.consumers.get('DLQ', { headers_only: true });
  const it = await oc.consume();
  try {
    for await (const m of it) {
      const cls =
        m.headers?.get(Header.DlqClass) || reasonClass(m.headers?.get(Header.DlqReason) ?? '');
      counts.set(cls, (counts.get(cls) ?? 0) + 1);
      if (m.info.streamSequence >= last || m.info.pending === 0) break;
    }
  } finally {
    it.stop();
  }
  return counts;
}

/** One dead letter as `heady dlq ls` lists it. */
export interface DeadLetterRow {
  /** Its sequence in DLQ. */
  seq: number;
  /** `<stream>/<seq>` of the original. */
  from: string;
  subject: string;
  at: string;
  reason: string;
  /** {@link reasonClass} of the reason. */
  class: string;
}

/** Which dead letters {@link listDeadLetters} lists, and in which order. */
export interface DeadLetterQuery {
  /** First DLQ sequence to read (oldest first only; the next page's `next`). */
  fromSeq?: number;
  limit: number;
  /** Only this reason class ({@link reasonClass}). */
  reason?: string;
  /** Only letters dead-lettered from this stream (`PIPELINE`, `WORK`, ...): subject `dlq.<stream>.>`. */
  stream?: string;
  /** Only letters stored in DLQ at or after this time. */
  since?: Date;
  /** The newest `limit` letters, newest first (no `next`: narrow with `since` instead). */
  newest?: boolean;
}

/**
 * Up to `limit` dead letters from DLQ sequence `fromSeq` on, oldest first, or the newest
 * `limit` newest first; only those of reason class `reason`, of `stream`, stored since
 * `since` when given. Read in one pass by an ordered consumer (filtered by subject for a
 * stream, started at the time for `since`) rather than one request per message; `next` is
 * the sequence the next page starts at, when more are stored (oldest first only).
 */
export async function listDeadLetters(
  bus: { js: JetStreamClient; jsm: JetStreamManager },
  opts: DeadLetterQuery,
): Promise<{ rows: DeadLetterRow[]; next?: number }> {
  const info = await bus.jsm.streams.info('DLQ');
  const last = info.state.last_seq;
  let rows: DeadLetterRow[] = [];
  const fromSeq = Math.max(opts.fromSeq ?? 1, info.state.first_seq);
  if (!info.state.messages || fromSeq > last) return { rows };
  const oc = await bus.js.consumers.get('DLQ', {
    ...(opts.since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }),
    // one subject filter (a string): nats-server 2.9 has no multi-filter consumers
    ...(opts.stream ? { filter_subjects: `dlq.${opts.stream}.>` } : {}),
  });
  let next: number | undefined;
  // batches that end when the server has no more (fetch, not consume: a filter or a start
  // time can leave nothing to read, and a consume would wait for a first message forever)
  const BATCH = 256;
  for (let done = false; !done;) {
    const batch = await oc.fetch({ max_messages: BATCH, expires: 1_000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      const h = (k: string): string | undefined => m.headers?.get(k) || undefined;
      const cls = h(Header.DlqClass) ?? reasonClass(h(Header.DlqReason) ?? '');
      const seq = m.info.streamSequence;
      if (!opts.newest && rows.length >= opts.limit) {
        next = seq;
        done = true;
        break;
      }
      if (seq >= fromSeq && (!opts.reason || cls === opts.reason)) {
        rows.push({
          seq,
          from: `${h(Header.DlqStream) ?? '?'}/${h(Header.DlqSeq) ?? '?'}`,
          subject: h(Header.DlqSubject) ?? m.subject,
          at: h(Header.DlqAt) ?? new Date(Number(m.info.timestampNanos) / 1e6).toISOString(),
          reason: h(Header.DlqReason) ?? '',
          class: cls,
        });
        // newest first: keep only the last `limit` seen (trimmed in batches)
        if (opts.newest && rows.length >= opts.limit * 2) rows = rows.slice(-opts.limit);
      }
      if (seq >= last || m.info.pending === 0) {
        done = true;
        break;
      }
    }
    if (n < BATCH) done = true;
  }
  if (opts.newest) return { rows: rows.slice(-opts.limit).reverse() };
  return next === undefined ? { rows } : { rows, next };
}
