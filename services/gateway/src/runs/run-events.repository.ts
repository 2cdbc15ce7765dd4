import { BusPublisher, decode, Header, type Nudges, nudgesOn, verifyDelivered } from '@heady/bus';
import {
  FINAL_RUN_EVENTS,
  type RunEvent,
  RunEventSchema,
  runEventJson,
  runEventsOf,
  runStateEventsOf,
} from '@heady/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** One run event as the SSE stream sends it: its RUN_EVENTS sequence is its event id. */
export interface RunEventRecord {
  seq: number;
  event: string;
  data: Record<string, unknown>;
}

/** Events that end a run's stream. */
export const FINAL_EVENTS: ReadonlySet<string> = new Set(FINAL_RUN_EVENTS);

/**
 * A stream's consumer the server drops by itself when nothing pulls from it for this long:
 * the backstop for one whose deletion never arrived (gateway killed, NATS briefly away).
 */
const ABANDONED_AFTER_MS = 60_000;

/**
 * Reads `runs.<runId>.>` from RUN_EVENTS with an ephemeral consumer of its own: history
 * first, then live, from the sequence after `afterSeq`, until the run's terminal event or
 * `signal`. The consumer is created (and awaited) under a name chosen here and deleted by
 * that name when the stream ends, however early: an ordered consumer is created in the
 * background, so one whose client left at once was created after its deletion and lingered.
 * Each message is verified (when signing is on) as a durable consumer verifies it: its
 * freshness against the time JetStream stored it, so the history of a run that ended long
 * ago verifies as well as a live event; one that fails verification is skipped, never shown.
 */
@Injectable()
export class RunEventsRepository {
  private jsm: JetStreamManager | undefined;

  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  /** Wakes a wait for run `runId`'s end whenever one of its own events is published (see `nudgesOn`). */
  endNudges(runId: string): Nudges {
    return nudgesOn(this.bus.connection.nc, runStateEventsOf(runId));
  }

  async *follow(
    runId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<RunEventRecord> {
    if (signal.aborted) return;
    const nc = this.bus.connection.nc;
    this.jsm ??= await jetstreamManager(nc, { checkAPI: false });
    const jsm = this.jsm;
    const name = `sse_${randomUUID().replaceAll('-', '')}`;
    try {
      await jsm.consumers.add('RUN_EVENTS', {
        name,
        filter_subject: runEventsOf(runId),
        ...(afterSeq > 0
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
          : { deliver_policy: DeliverPolicy.All }),
        ack_policy: AckPolicy.None,
        inactive_threshold: nanos(ABANDONED_AFTER_MS),
        mem_storage: true,
        num_replicas: 1,
      });
      // the client may have left while the consumer was being created
      if (signal.aborted) return;
      const consumer = await jetstream(nc).consumers.get('RUN_EVENTS', name);
      const messages = await consumer.consume({ max_messages: 256 });
      // close() takes effect through the iterator: the loop below must run to see it, and
      // awaiting close() of an iterator nobody iterates never resolves
      const stop = () => void messages.close();
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of messages) {
          if (!(await this.verified(m))) continue;
          const ev = decode(m.headers?.get(Header.ContentType), m.data, RunEventSchema) as RunEvent;
          yield {
            seq: m.seq,
            event: ev.event,
            data: runEventJson(ev),
          };
          if (FINAL_EVENTS.has(ev.event)) break;
        }
      } finally {
        signal.removeEventListener('abort', stop);
        stop();
      }
    } finally {
      await release(jsm, name);
    }
  }

  private async verified(m: JsMsg): Promise<boolean> {
    const verifier = this.bus.verifier;
    if (!verifier) return true;
    return (await verifyDelivered(verifier, m)).ok;
  }
}

/**
 * Deletes the stream's consumer now: closing only stops pulling, and the server would keep
 * it until {@link ABANDONED_AFTER_MS}, one per stream ever opened.
 */
async function release(jsm: JetStreamManager, name: string): Promise<void> {
  try {
    await jsm.consumers.delete('RUN_EVENTS', name);
  } catch {
    // already gone, or never created (its creation failed)
  }
}
