import { type CommonConfig } from '@heady/config';
import { type Logger, counter, histogram } from '@heady/telemetry';
import { type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, type Subscription, headers } from '@nats-io/transport-node';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { isObservable, lastValueFrom } from 'rxjs';
import { decode, encodeValue } from '../codec.js';
import { type BusConnection, closeBus, connectBus } from '../connection.js';
import { JetStreamContext } from '../context.js';
import { deadLetterDelivered, watchMaxDeliveries } from '../dead-letter.js';
import { Header, subjectMatches } from '../ids.js';
import { failureOutcome, isNestGenericRpcError } from './settlement.js';
import {
  type ConsumerSpec,
  KV_BUCKETS,
  STREAMS,
  type StreamSpec,
  ensureTopology,
} from '../topology.js';
import { extractTrace } from '../trace-headers.js';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { AuditEventSchema } from '@heady/contracts';
import { type MessageVerifier, RejectReason, type VerifyResult } from '@heady/pqc';
import { type BusPublisher } from '../publisher.js';
import { type PayloadSealing } from '../sealing.js';

const messages = counter('heady_bus_messages_total', 'JetStream messages handled, by outcome', [
  'stream',
  'consumer',
  'outcome',
]);
const rejected = counter(
  'heady_bus_rejected_total',
  'Messages refused before any handler ran, by reason',
  ['reason'],
);
const handlerSeconds = histogram('heady_bus_handler_seconds', 'Time a handler took per delivery', [
  'consumer',
]);

/** Options of {@link JetStreamServer}. */
export interface JetStreamServerOptions {
  config: Pick<CommonConfig, 'nats' | 'instanceId' | 'service'>;
  /** Durable pull consumers to run; each message goes to the `@EventPattern` matching its subject. */
  consumers: ConsumerSpec[];
  streams?: readonly StreamSpec[];
  kv?: readonly string[];
  /** Queue group of `@MessagePattern` subscriptions, so replicas share requests. */
  queueGroup?: string;
  logger?: Logger;
  /** In-flight messages per consumer (default 16). */
  concurrency?: number;
  /** Verifies every message before its handler runs; a refused one goes to DLQ and audit. */
  verifier?: MessageVerifier;
  /** Publishes `audit.security.rejected` events (signed when it has a signer). */
  publisher?: BusPublisher;
  /** Opens RESTRICTED payloads sealed to this service (a RESTRICTED message that does not open is refused). */
  sealing?: PayloadSealing;
}

/**
 * The JetStream transport for NestJS. `@EventPattern(subject)` handlers consume durable
 * JetStream consumers with explicit acks; `@MessagePattern(subject)` handlers answer core
 * NATS requests. Every handler runs inside a span continuing the sender's trace.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private bus: BusConnection | undefined;
  private readonly loops: Promise<void>[] = [];
  private readonly iterators = new Set<ConsumerMessages>();
  private readonly subs: Subscription[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private running = false;
  private connected = false;
  /** Durables whose `consume()` iterator is currently open. */
  private readonly live = new Set<string>();
  private warnedFilter = false;
  /** msg id → stream sequence of recent deliveries: the same id at another sequence is a replay. */
  private readonly recentIds = new Map<string, number>();
  private closing = false;

  constructor(private readonly opts: JetStreamServerOptions) {
    super();
  }

  /** Connects, creates the topology, starts consumers and RPC subscriptions. */
  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  private async start(): Promise<void> {
    const { config } = this.opts;
    this.bus = await connectBus(config, { name: `${config.instanceId}-server` });
    this.connected = true;
    this.watchStatus(this.bus);
    await ensureTopology(this.bus.nc, {
      jsm: this.bus.jsm,
      streams: this.opts.streams ?? STREAMS,
      consumers: this.opts.consumers,
      kv: this.opts.kv ?? KV_BUCKETS,
      config,
    });
    for (const [pattern, handler] of this.messageHandlers) {
      if (!handler.isEventHandler) this.subs.push(this.serveRequests(pattern, handler));
    }
    this.subs.push(
      ...watchMaxDeliveries(
        this.bus.nc,
        this.bus.js,
        this.bus.jsm,
        this.opts.consumers,
        this.opts.logger,
      ),
    );
    this.running = true;
    for (const spec of this.opts.consumers) this.loops.push(this.consumeLoop(spec));
  }

  /** Follows disconnects and reconnects for {@link isReady}. */
  private watchStatus(bus: BusConnection): void {
    void (async () => {
      for await (const s of bus.nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        else if (s.type === 'reconnect') this.connected = true;
      }
    })().catch(() => undefined);
  }

  /**
   * True while connected to a server and every consumer has an open `consume()` (for
   * `/readyz`); false before listen, during a reconnect, and from close() on.
   */
  isReady(): boolean {
    return (
      this.running &&
      this.connected &&
      !this.closing &&
      !!this.bus &&
      !this.bus.nc.isClosed() &&
      this.live.size === this.opts.consumers.length
    );
  }

  /**
   * Stops pulling (consumer iterators stop; undelivered pulls lapse), lets in-flight
   * handlers finish and settle (up to 5 s; the rest are redelivered after ack wait), stops
   * the request and advisory subscriptions, then drains the connection.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.running = false;
    for (const it of this.iterators) it.stop();
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((r) => setTimeout(r, 5_000)),
    ]);
    for (const s of this.subs) s.unsubscribe();
    if (this.bus) await closeBus(this.bus).catch(() => undefined);
  }

  /** Not supported: there are no transport events to listen to. */
  on(): never {
    throw new Error('JetStreamServer does not support event listeners');
  }

  /** The underlying `NatsConnection` (after listen). */
  unwrap<T>(): T {
    if (!this.bus) throw new Error('JetStreamServer is not listening yet');
    return this.bus.nc as T;
  }

  private findHandler(subject: string): MessageHandler | undefined {
    const exact = this.messageHandlers.get(subject);
    if (exact?.isEventHandler) return exact;
    for (const [pattern, h] of this.messageHandlers)
      if (h.isEventHandler && subjectMatches(pattern, subject)) return h;
    return undefined;
  }

  private async consumeLoop(spec: ConsumerSpec): Promise<void> {
    const limit = this.opts.concurrency ?? 16;
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
            const p = this.dispatch(spec, m).finally(() => {
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

  private async dispatch(spec: ConsumerSpec, m: JsMsg): Promise<void> {
    const bus = this.bus;
    if (!bus) return;
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
        if (this.opts.verifier) {
          const v = await this.verifyDelivery(m, ctx.msgId);
          if (!v.ok) {
            await this.refuse(ctx, v, m.subject);
            return;
          }
          if (v.classification === 'RESTRICTED') {
            const opened = this.opts.sealing
              ? this.opts.sealing.open(m.subject, ctx.msgId ?? '', m.data)
              : ({
                  ok: false,
                  reason: RejectReason.Undecryptable,
                  detail: 'this process cannot open RESTRICTED payloads',
                } as const);
            if (!opened.ok) {
              await this.refuse(ctx, opened, m.subject);
              return;
            }
            payload = opened.data;
          }
        }
        const handler = this.findHandler(m.subject);
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
        await this.invoke(handler, data, ctx);
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

  private async verifyDelivery(m: JsMsg, msgId: string | undefined): Promise<VerifyResult> {
    const verifier = this.opts.verifier;
    if (!verifier) throw new Error('no verifier');
    const v = await verifier.verify({
      subject: m.subject,
      msgId: msgId ?? '',
      contentType: m.headers?.get(Header.ContentType) ?? '',
      payload: m.data,
      header: (n) => m.headers?.get(n) || undefined,
      storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
    });
    if (!v.ok || !msgId) return v;
    const key = `${m.info.stream}:${msgId}`;
    const seen = this.recentIds.get(key);
    if (seen !== undefined && seen !== m.info.streamSequence) {
      return {
        ok: false,
        reason: RejectReason.Duplicate,
        detail: `msg id ${msgId} was already delivered as sequence ${seen}`,
      };
    }
    this.recentIds.set(key, m.info.streamSequence);
    if (this.recentIds.size > 50_000)
      this.recentIds.delete(this.recentIds.keys().next().value as string);
    return v;
  }

  /** A refused message: copied to DLQ with the reason, audited, counted; never handed to a handler. */
  private async refuse(
    ctx: JetStreamContext,
    v: Extract<VerifyResult, { ok: false }>,
    subject: string,
  ): Promise<void> {
    rejected.inc({ reason: v.reason });
    this.opts.logger?.warn(
      { reason: v.reason, detail: v.detail, subject, seq: ctx.streamSequence },
      'message rejected',
    );
    await ctx.deadLetter(`rejected (${v.reason}): ${v.detail}`);
    await this.auditRejection(v, subject, {
      stream: ctx.stream,
      consumer: ctx.spec.durable,
      seq: ctx.streamSequence,
      msgId: ctx.msgId ?? '',
    });
  }

  private async auditRejection(
    v: Extract<VerifyResult, { ok: false }>,
    subject: string,
    where: Record<string, string | number>,
  ): Promise<void> {
    const pub = this.opts.publisher;
    if (!pub) return;
    const id = `rejected:${where.stream ?? 'rpc'}:${where.seq ?? where.msgId}`;
    await pub
      .publish(
        'audit.security.rejected',
        {
          schema: AuditEventSchema,
          message: create(AuditEventSchema, {
            id: crypto.randomUUID(),
            actor: this.opts.config.instanceId,
            action: 'MESSAGE_REJECTED',
            target: subject,
            status: v.reason,
            details: { ...where, detail: v.detail },
            at: timestampNow(),
          }),
        },
        { msgId: `audit:${id}` },
      )
      .catch((err: unknown) => this.opts.logger?.error({ err }, 'could not audit a rejection'));
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

  private async invoke(handler: MessageHandler, data: unknown, ctx: unknown): Promise<unknown> {
    const out: unknown = await handler(data, ctx);
    return isObservable(out) ? lastValueFrom(out, { defaultValue: undefined }) : out;
  }

  private serveRequests(pattern: string, handler: MessageHandler): Subscription {
    const bus = this.bus;
    if (!bus) throw new Error('not connected');
    const sub = bus.nc.subscribe(pattern, {
      queue: this.opts.queueGroup ?? this.opts.config.service,
    });
    void (async () => {
      for await (const m of sub) void this.answer(m, handler);
    })();
    return sub;
  }

  /** A reply's headers: signed and bound to its request when this server's publisher signs. */
  private async replyHeaders(
    m: Msg,
    contentType: string,
    data: Uint8Array,
    extra: Record<string, string> = {},
  ): Promise<MsgHdrs> {
    const pub = this.opts.publisher;
    const requestMsgId = m.headers?.get(Header.MsgId);
    if (pub?.signer && m.reply && requestMsgId)
      return pub.replyHeaders(m.reply, requestMsgId, contentType, data, extra);
    const h = headers();
    h.set(Header.ContentType, contentType);
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return h;
  }

  private async answer(m: Msg, handler: MessageHandler): Promise<void> {
    const parent = extractTrace(m.headers);
    const span = trace.getTracer('@heady/bus').startSpan(
      `${m.subject} handle`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': m.subject },
      },
      parent,
    );
    await context.with(trace.setSpan(parent, span), async () => {
      try {
        if (this.opts.verifier) {
          const v = await this.opts.verifier.verify({
            subject: m.subject,
            msgId: m.headers?.get(Header.MsgId) ?? '',
            contentType: m.headers?.get(Header.ContentType) ?? '',
            payload: m.data,
            header: (n) => m.headers?.get(n) || undefined,
          });
          if (!v.ok) {
            rejected.inc({ reason: v.reason });
            void this.auditRejection(v, m.subject, { msgId: m.headers?.get(Header.MsgId) ?? '' });
            throw Object.assign(new Error(`request rejected (${v.reason}): ${v.detail}`), {
              code: 'UNAUTHENTICATED',
              details: { reason: v.reason },
            });
          }
        }
        const data = decode(m.headers?.get(Header.ContentType), m.data);
        const result = await this.invoke(handler, data, undefined);
        const { data: bytes, contentType } = encodeValue(result);
        m.respond(bytes, { headers: await this.replyHeaders(m, contentType, bytes) });
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown; details?: unknown };
        const body = {
          code: typeof e?.code === 'string' ? e.code : 'INTERNAL',
          message: typeof e?.message === 'string' ? e.message : 'handler failed',
          details: typeof e?.details === 'object' && e.details !== null ? e.details : {},
        };
        if (body.code === 'INTERNAL') {
          span.recordException(err as Error);
          this.opts.logger?.error({ err, subject: m.subject }, 'request handler failed');
        }
        const json = JSON.stringify(body);
        const bytes = new TextEncoder().encode(json);
        try {
          m.respond(bytes, {
            headers: await this.replyHeaders(m, 'application/json', bytes, {
              [Header.Error]: json,
            }),
          });
        } catch (e) {
          this.opts.logger?.error({ err: e, subject: m.subject }, 'could not answer a request');
        }
      } finally {
        span.end();
      }
    });
  }
}
