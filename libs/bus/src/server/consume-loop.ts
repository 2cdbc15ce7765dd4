import { type Logger } from '@heady/telemetry';
import { type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { type MessageHandler } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { decode } from '../codec.js';
import { type BusConnection } from '../connection.js';
import { JetStreamContext } from '../context.js';
import { deadLetterDelivered } from '../dead-letter.js';
import { Header } from '../ids.js';
import { type ConsumerSpec } from '../topology.js';
import { extractTrace } from '../trace-headers.js';
import { type DeliveryAdmission } from './admission.js';
import { findEventHandler, invokeHandler } from './handlers.js';
import { handlerSeconds, messages } from './metrics.js';
import { failureOutcome, isNestGenericRpcError } from './settlement.js';

/** Options of {@link ConsumeLoops}. */
export interface ConsumeLoopsOptions {
  /** The durable pull consumers to run. */
  consumers: readonly ConsumerSpec[];
  /** The Nest handlers; a delivery goes to the `@EventPattern` matching its subject. */
  handlers: ReadonlyMap<string, MessageHandler>;
  /** In-flight messages per consumer, unless its spec says (default 16). */
  concurrency?: number;
  logger?: Logger;
}

/**
 * One pull loop per durable consumer: each delivery is admitted (when there is admission),
 * decoded and handed to its `@EventPattern` handler inside a span continuing the sender's
 * trace, then settled — acked when the handler returns without settling, nak'ed with
 * backoff or dead-lettered when it throws ({@link failureOutcome}). A loop that breaks
 * (a lost consumer, a reconnect) resumes after a second until {@link stop}.
 */
export class ConsumeLoops {
  private readonly loops: Promise<void>[] = [];
  private readonly iterators = new Set<ConsumerMessages>();
  private readonly inflight = new Set<Promise<void>>();
  /** Durables whose `consume()` iterator is currently open. */
  private readonly live = new Set<string>();
  private closing = false;
  private warnedFilter = false;
  private bus: BusConnection | undefined;
  private admission: DeliveryAdmission | undefined;

  constructor(private readonly opts: ConsumeLoopsOptions) {}

  /** Starts pulling from every consumer over `bus`; nothing starts once {@link stop} was called. */
  start(bus: BusConnection, admission: DeliveryAdmission | undefined): void {
    this.bus = bus;
    this.admission = admission;
    for (const spec of this.opts.consumers) this.loops.push(this.run(spec));
  }

  /** True while every consumer has an open `consume()` iterator. */
  allLive(): boolean {
    return this.live.size === this.opts.consumers.length;
  }

  /**
   * Stops pulling (consumer iterators stop; undelivered pulls lapse) and lets in-flight
   * deliveries finish and settle, for up to 5 s (the rest are redelivered after ack wait).
   */
  async stop(): Promise<void> {
    this.closing = true;
    for (const it of this.iterators) it.stop();
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((r) => setTimeout(r, 5_000)),
    ]);
  }

  private async run(spec: ConsumerSpec): Promise<void> {
    const limit = spec.concurrency ?? this.opts.concurrency ?? 16;
    while (!this.closing) {
      try {
        const bus = this.bus;
        if (!bus) return;
        const consumer = await bus.js.consumers.get(spec.stream, spec.durable);
        const iter = await consumer.consume({ max_messages: limit });
        this.iterators.add(iter);
        this.live.add(spec.durable);
        try {
          const mine = new Set<Promise<void>>();
          for await (const m of iter) {
            const p = this.dispatch(bus, spec, m).finally(() => {
              this.inflight.delete(p);
              mine.delete(p);
            });
            this.inflight.add(p);
            mine.add(p);
            while (mine.size >= limit) await Promise.race(mine);
          }
        } finally {
          this.live.delete(spec.durable);
          this.iterators.delete(iter);
        }
      } catch (err) {
        if (this.closing) return;
        this.opts.logger?.warn(
          { err, consumer: spec.durable },
          'consumer loop interrupted; resuming',
        );
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  private async dispatch(bus: BusConnection, spec: ConsumerSpec, m: JsMsg): Promise<void> {
    const ctx = new JetStreamContext(m, spec, (msg, s, reason) =>
      deadLetterDelivered(bus.js, msg, s, reason),
    );
    const parent = extractTrace(m.headers);
    const span = trace.getTracer('@heady/bus').startSpan(
      `${m.subject} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': m.subject,
          'messaging.consumer.group.name': spec.durable,
          'messaging.message.id': ctx.msgId ?? '',
          'messaging.nats.delivery_count': m.info.deliveryCount,
        },
      },
      parent,
    );
    const started = performance.now();
    await context.with(trace.setSpan(parent, span), async () => {
      try {
        let payload = m.data;
        if (this.admission) {
          const verdict = await this.admission.decide(m, ctx);
          if (verdict.kind === 'refuse') {
            await this.admission.refuse(ctx, verdict.rejection);
            return;
          }
          if (verdict.kind === 'skip') {
            ctx.ack();
            return;
          }
          payload = verdict.payload;
        }
        const handler = findEventHandler(this.opts.handlers, m.subject);
        if (!handler) {
          await ctx.deadLetter(`no handler for subject ${m.subject}`);
          return;
        }
        let data: unknown;
        try {
          data = decode(m.headers?.get(Header.ContentType), payload);
        } catch (e) {
          await ctx.deadLetter((e as Error).message);
          return;
        }
        await invokeHandler(handler, data, ctx);
        ctx.ack();
        this.opts.logger?.debug(
          { consumer: spec.durable, seq: m.info.streamSequence, settled: ctx.settled },
          'message handled',
        );
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        await this.settleFailure(ctx, err).catch((e: unknown) => {
          // DLQ unreachable: leave the message unacked; JetStream redelivers after ack_wait.
          this.opts.logger?.error(
            { err: e, consumer: spec.durable },
            'could not settle a failed message',
          );
        });
      } finally {
        span.end();
        handlerSeconds.observe({ consumer: spec.durable }, (performance.now() - started) / 1000);
        messages.inc({
          stream: spec.stream,
          consumer: spec.durable,
          outcome: ctx.settled ?? 'unsettled',
        });
      }
    });
  }

  private async settleFailure(ctx: JetStreamContext, err: unknown): Promise<void> {
    if (ctx.settled) return;
    if (isNestGenericRpcError(err) && !this.warnedFilter) {
      this.warnedFilter = true;
      this.opts.logger?.warn(
        'a handler error reached the bus as Nest\'s generic "Internal server error": install BusExceptionFilter (useGlobalFilters) so PermanentError and RetryableError keep their meaning',
      );
    }
    const out = failureOutcome(err, ctx.deliveryCount, ctx.spec);
    const where = {
      err,
      consumer: ctx.spec.durable,
      seq: ctx.streamSequence,
      delivery: ctx.deliveryCount,
    };
    if (out.action === 'dlq') {
      this.opts.logger?.warn(where, `handler failed; dead-lettered: ${out.reason}`);
      await ctx.deadLetter(out.reason);
      return;
    }
    this.opts.logger?.warn({ ...where, delay_ms: out.delayMs }, 'handler failed; will retry');
    ctx.nak(out.delayMs);
  }
}
