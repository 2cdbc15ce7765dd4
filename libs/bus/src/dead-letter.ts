import { type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import {
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
  headers,
} from '@nats-io/transport-node';
import { type Logger, counter } from '@heady/telemetry';
import { Header, dlqMsgId } from './ids.js';
import { type ConsumerSpec } from './topology.js';

const deadLetters = counter('heady_bus_dead_letters_total', 'Messages copied to the DLQ stream', [
  'stream',
  'consumer',
  'source',
]);

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
}

/**
 * Publishes the copy to `dlq.<stream>.<consumer>`: the original bytes and headers plus
 * `Heady-Dlq-*` headers with the reason. Its msg id `dlq:<stream>:<seq>` makes a second
 * copy of the same original (handler and advisory both) a no-op.
 */
export async function copyToDlq(
  js: JetStreamClient,
  m: DeadLetterInput,
  source: 'handler' | 'advisory',
): Promise<void> {
  const h = headers();
  for (const k of m.headers?.keys() ?? []) {
    const v = m.headers?.get(k);
    if (v === undefined) continue;
    if (k === Header.MsgId) h.set(Header.DlqOriginalMsgId, v);
    else h.set(k, v);
  }
  h.set(Header.DlqReason, m.reason.slice(0, 1000).replace(/[\r\n]+/g, ' '));
  h.set(Header.DlqStream, m.stream);
  h.set(Header.DlqConsumer, m.consumer);
  h.set(Header.DlqSeq, String(m.seq));
  h.set(Header.DlqSubject, m.subject);
  h.set(Header.DlqDeliveries, String(m.deliveries));
  h.set(Header.DlqAt, new Date().toISOString());
  const ack = await js.publish(`dlq.${m.stream}.${m.consumer}`, m.data, {
    msgID: dlqMsgId(m.stream, m.seq),
    headers: h,
  });
  if (!ack.duplicate) deadLetters.inc({ stream: m.stream, consumer: m.consumer, source });
}

/** Dead-letters a delivered message (the handler's path). */
export function deadLetterDelivered(
  js: JetStreamClient,
  msg: JsMsg,
  spec: ConsumerSpec,
  reason: string,
): Promise<void> {
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
          const a = m.json<MaxDeliveriesAdvisory>();
          const stored = await jsm.streams.getMessage(a.stream, { seq: a.stream_seq });
          if (!stored) continue; // aged out already
          await copyToDlq(
            js,
            {
              stream: a.stream,
              consumer: a.consumer,
              seq: a.stream_seq,
              subject: stored.subject,
              deliveries: a.deliveries,
              data: stored.data,
              headers: stored.header,
              reason: `max deliveries (${a.deliveries}) exceeded without an ack`,
            },
            'advisory',
          );
          log?.warn(
            { stream: a.stream, consumer: a.consumer, seq: a.stream_seq },
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
