import { toJson } from '@bufbuild/protobuf';
import { BusPublisher, decode, Header } from '@heady/bus';
import { type RunEvent, RunEventSchema } from '@heady/contracts';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { Inject, Injectable } from '@nestjs/common';

/** One run event as the SSE stream sends it: its RUN_EVENTS sequence is its event id. */
export interface RunEventRecord {
  seq: number;
  event: string;
  data: Record<string, unknown>;
}

/** Events that end a run's stream. */
export const FINAL_EVENTS = new Set([
  'run.succeeded',
  'run.failed',
  'run.compensated',
  'run.cancelled',
]);

/**
 * Reads `runs.<runId>.>` from RUN_EVENTS with an ordered consumer: history first, then
 * live, from the sequence after `afterSeq`. Each message is verified (when signing is on)
 * before it is handed out; one that fails verification is skipped, never shown.
 */
@Injectable()
export class RunEventsRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async *follow(
    runId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<RunEventRecord> {
    const js = jetstream(this.bus.connection.nc);
    const consumer = await js.consumers.get('RUN_EVENTS', {
      filter_subjects: `runs.${runId}.>`,
      ...(afterSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const messages = await consumer.consume();
    const stop = () => void messages.close();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of messages) {
        const verifier = this.bus.verifier;
        if (verifier) {
          const v = await verifier.verify({
            subject: m.subject,
            msgId: m.headers?.get(Header.MsgId) ?? '',
            contentType: m.headers?.get(Header.ContentType) ?? '',
            payload: m.data,
            header: (n) => m.headers?.get(n) || undefined,
          });
          if (!v.ok) continue;
        }
        const ev = decode(m.headers?.get(Header.ContentType), m.data, RunEventSchema) as RunEvent;
        yield {
          seq: m.seq,
          event: ev.event,
          data: toJson(RunEventSchema, ev) as Record<string, unknown>,
        };
        if (FINAL_EVENTS.has(ev.event)) break;
      }
    } finally {
      signal.removeEventListener('abort', stop);
      await messages.close();
    }
  }
}
