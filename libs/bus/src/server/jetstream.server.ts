import { type CommonConfig } from '@heady/config';
import { type Logger, counter, histogram } from '@heady/telemetry';
import { type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, type Subscription, headers } from '@nats-io/transport-node';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { isObservable, lastValueFrom } from 'rxjs';
import { createHash } from 'node:crypto';
import { decode, encodeValue } from '../codec.js';
import { type BusConnection, closeBus, connectBus } from '../connection.js';
import { JetStreamContext } from '../context.js';
import { deadLetterDelivered, reasonClass, watchMaxDeliveries } from '../dead-letter.js';
import { DedupStore } from '../dedup.js';
import { ERROR_CONTENT_TYPE, Header, subjectMatches } from '../ids.js';
import { failureOutcome, isNestGenericRpcError } from './settlement.js';
import { ungrantedPatterns } from './rpc-handler.js';
import {
  type ConsumerSpec,
  KV_BUCKETS,
  STREAMS,
  type StreamSpec,
  ensureTopology,
} from '../topology.js';
import { extractTrace } from '../trace-headers.js';
import { verifyDelivered } from '../verify-delivered.js';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  type AuditEvent,
  AuditEventSchema,
  SECURITY_REJECTED_SUBJECT,
  STREAM_SUBJECTS,
  subjectPermitted,
} from '@heady/contracts';
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
const duplicates = counter(
  'heady_bus_duplicates_total',
  'Deliveries and requests whose msg id was already handled within the duplicate window (skipped, not rejected)',
  ['scope'],
);
const rejectionsUnaudited = counter(
  'heady_bus_rejections_unaudited_total',
  'Rejected messages not audited: audit events themselves (no audit of an audit), or a repeat of a rejection already audited',
  ['why'],
);
const dlqCopyFailed = counter(
  'heady_bus_dlq_copy_failed_total',
  'Rejected messages terminated without a DLQ copy after every copy attempt failed',
  ['stream', 'consumer'],
);
const rpcOverloaded = counter(
  'heady_bus_rpc_overloaded_total',
  'Requests answered RESOURCE_EXHAUSTED because the responder had its cap of requests running and queued',
  ['subject'],
);
const handlerSeconds = histogram('heady_bus_handler_seconds', 'Time a handler took per delivery', [
  'consumer',
]);

/** A UUID (v8 layout) derived from `name`: the same name always gives the same id. */
function uuidOf(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Whether `subject` is an audit event's (`audit.>`): refusing one is never audited again. */
export function isAuditSubject(subject: string): boolean {
  // `audit` itself counts too: `audit.` is covered by `audit.>`
  return subjectPermitted([STREAM_SUBJECTS.audit], `${subject}.`);
}

/** Requests that may wait for a slot, per slot of the RPC concurrency cap. */
const RPC_QUEUE_FACTOR = 16;

/** Records a rejection of an audit event without publishing one (e.g. a row in `audit_logs`). */
export type RejectedAuditSink = (e: AuditEvent) => Promise<void>;

/** Options of {@link JetStreamServer}. */
export interface JetStreamServerOptions {
  config: Pick<CommonConfig, 'nats' | 'instanceId' | 'service'>;
  /** Requests (`@MessagePattern`) run at once (default `config.nats.rpcConcurrency`, else 64); 16 × as many wait, the rest are refused. */
  rpcConcurrency?: number;
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
  /**
   * Records rejections of audit events (`audit.>`) — which are never published as audit
   * events again, so a forged audit event cannot start a chain. Without a sink they are
   * only counted and logged. The audit writer's process stores them in `audit_logs` directly.
   */
  rejectedAuditSink?: RejectedAuditSink;
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
  /** (stream, msg id) and request ids seen within the duplicate window, shared by every replica. */
  private dedup: DedupStore | undefined;
  private rpcRunning = 0;
  private readonly rpcWaiting: (() => void)[] = [];
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
    const ungranted = ungrantedPatterns(config.service, this.messageHandlers.keys());
    if (ungranted.length)
      throw new Error(
        `${config.service} handles ${ungranted.join(', ')}, which the bus catalog (libs/contracts) does not grant it`,
      );
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
    if (this.opts.verifier)
      this.dedup = await DedupStore.open(
        this.bus.nc,
        this.bus.jsm,
        config.nats.duplicateWindowSeconds,
      );
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
          const v = await this.verifyDelivery(m);
          if (!v.ok) {
            await this.refuse(ctx, v, m.subject);
            return;
          }
          if (!(await this.firstDelivery(ctx))) {
            ctx.ack();
            return;
          }
          if (v.classification === 'RESTRICTED') {
            const opened = this.opts.sealing
              ? this.opts.sealing.open(m.subject, ctx.msgId ?? '', m.data, v.replayOf)
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

  private async verifyDelivery(m: JsMsg): Promise<VerifyResult> {
    const verifier = this.opts.verifier;
    if (!verifier) throw new Error('no verifier');
    return verifyDelivered(verifier, m);
  }

  /**
   * Whether this delivery's (stream, msg id) is new within the duplicate window, or a
   * redelivery of the same stored message. The same id at another sequence inside the
   * window is a duplicate JetStream should have dropped (a purged or re-created stream):
   * skipped and counted, not a security rejection — the signature already proved who sent
   * it. A store that cannot answer does not stop the message (JetStream's window still holds).
   */
  private async firstDelivery(ctx: JetStreamContext): Promise<boolean> {
    const { dedup } = this;
    if (!dedup || !ctx.msgId) return true;
    try {
      const c = await dedup.claim(ctx.stream, ctx.msgId, String(ctx.streamSequence));
      if (c.first || c.owner === String(ctx.streamSequence)) return true;
      duplicates.inc({ scope: ctx.stream });
      this.opts.logger?.info(
        { consumer: ctx.spec.durable, seq: ctx.streamSequence, first: c.owner, msg_id: ctx.msgId },
        'duplicate msg id within the duplicate window; skipped',
      );
      return false;
    } catch (err) {
      this.opts.logger?.warn(
        { err, consumer: ctx.spec.durable },
        'de-duplication store unavailable',
      );
      return true;
    }
  }

  /**
   * A refused message: counted, logged, copied to DLQ with the reason and terminated — once:
   * a failed copy is tried again a few times, then the message is terminated anyway (logged
   * and counted), so a refused message is never handed out again. Audited only when this
   * call made the DLQ copy (one audit event per stream sequence, whichever consumer or
   * replica refused it first) and never when the refused message is itself an audit event:
   * auditing that would feed the consumer that refused it.
   */
  private async refuse(
    ctx: JetStreamContext,
    v: Extract<VerifyResult, { ok: false }>,
    subject: string,
  ): Promise<void> {
    rejected.inc({ reason: v.reason });
    const where = {
      reason: v.reason,
      detail: v.detail,
      subject,
      seq: ctx.streamSequence,
      consumer: ctx.spec.durable,
    };
    this.opts.logger?.warn(where, 'message rejected');
    const reason = `rejected (${v.reason}): ${v.detail}`;
    const copy = await ctx.deadLetterOrTerm(reason);
    if (copy.error !== undefined) {
      dlqCopyFailed.inc({ stream: ctx.stream, consumer: ctx.spec.durable });
      this.opts.logger?.error(
        { ...where, err: copy.error, class: reasonClass(reason) },
        'rejected message terminated without a DLQ copy',
      );
    } else if (!copy.created) {
      rejectionsUnaudited.inc({ why: 'repeat' });
      return;
    }
    if (isAuditSubject(subject)) {
      rejectionsUnaudited.inc({ why: 'audit-event' });
      this.opts.logger?.warn(where, 'rejected an audit event: recorded, not published as one');
      const sink = this.opts.rejectedAuditSink;
      if (sink)
        await sink(
          this.rejectionEvent(v, subject, {
            stream: ctx.stream,
            consumer: ctx.spec.durable,
            seq: ctx.streamSequence,
            msgId: ctx.msgId ?? '',
          }).event,
        ).catch((err: unknown) =>
          this.opts.logger?.error({ err }, 'could not record a rejected audit event'),
        );
      return;
    }
    await this.auditRejection(v, subject, {
      stream: ctx.stream,
      consumer: ctx.spec.durable,
      seq: ctx.streamSequence,
      msgId: ctx.msgId ?? '',
    });
  }

  /** The audit event of a rejection; its id is derived from what was rejected, so it is stored once ever. */
  private rejectionEvent(
    v: Extract<VerifyResult, { ok: false }>,
    subject: string,
    where: Record<string, string | number>,
  ): { event: AuditEvent; msgId: string } {
    const id = `rejected:${where.stream ?? 'rpc'}:${where.seq ?? where.msgId}`;
    return {
      msgId: `audit:${id}`,
      event: create(AuditEventSchema, {
        // one row per rejected message ever: audit_logs ignores a second insert of an id
        id: uuidOf(id),
        actor: this.opts.config.instanceId,
        action: 'MESSAGE_REJECTED',
        target: subject,
        status: v.reason,
        details: { ...where, detail: v.detail },
        at: timestampNow(),
      }),
    };
  }

  private async auditRejection(
    v: Extract<VerifyResult, { ok: false }>,
    subject: string,
    where: Record<string, string | number>,
  ): Promise<void> {
    const pub = this.opts.publisher;
    if (!pub) return;
    const { event, msgId } = this.rejectionEvent(v, subject, where);
    await pub
      .publish(SECURITY_REJECTED_SUBJECT, { schema: AuditEventSchema, message: event }, { msgId })
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
      for await (const m of sub) void this.admit(m, handler);
    })();
    return sub;
  }

  /** The cap of requests running at once. */
  private get rpcCap(): number {
    return this.opts.rpcConcurrency ?? this.opts.config.nats.rpcConcurrency ?? 64;
  }

  /**
   * Runs {@link answer} within the concurrency cap: a request over the cap waits for a
   * slot while fewer than 16 × the cap wait already (a burst is queued, not refused; the
   * caller's timeout bounds the wait); past that it is answered at once with
   * RESOURCE_EXHAUSTED (the caller sees an overload, not a timeout).
   */
  private async admit(m: Msg, handler: MessageHandler): Promise<void> {
    const cap = this.rpcCap;
    if (this.rpcRunning >= cap) {
      if (this.rpcWaiting.length >= cap * RPC_QUEUE_FACTOR) {
        rpcOverloaded.inc({ subject: m.subject });
        await this.respondError(m, {
          code: 'RESOURCE_EXHAUSTED',
          message: `${this.opts.config.service} is answering ${cap} requests and has ${cap * RPC_QUEUE_FACTOR} waiting; retry later`,
          details: { subject: m.subject, cap },
        });
        return;
      }
      await new Promise<void>((r) => this.rpcWaiting.push(r));
    }
    this.rpcRunning++;
    try {
      await this.answer(m, handler);
    } finally {
      this.rpcRunning--;
      this.rpcWaiting.shift()?.();
    }
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

  /**
   * Answers with an error: the body `{ code, message, details }` is the signed payload
   * under {@link ERROR_CONTENT_TYPE} (also signed), and is repeated in the `Heady-Error`
   * header for readers that only look there; a verifying caller trusts the header only when
   * it equals the signed body.
   */
  private async respondError(
    m: Msg,
    body: { code: string; message: string; details: object },
  ): Promise<void> {
    const json = JSON.stringify(body);
    const bytes = new TextEncoder().encode(json);
    try {
      m.respond(bytes, {
        headers: await this.replyHeaders(m, ERROR_CONTENT_TYPE, bytes, { [Header.Error]: json }),
      });
    } catch (e) {
      this.opts.logger?.error({ err: e, subject: m.subject }, 'could not answer a request');
    }
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
          const msgId = m.headers?.get(Header.MsgId) ?? '';
          const v = await this.opts.verifier.verify({
            subject: m.subject,
            msgId,
            contentType: m.headers?.get(Header.ContentType) ?? '',
            payload: m.data,
            header: (n) => m.headers?.get(n) || undefined,
          });
          if (!v.ok) {
            rejected.inc({ reason: v.reason });
            if (!isAuditSubject(m.subject)) void this.auditRejection(v, m.subject, { msgId });
            throw Object.assign(new Error(`request rejected (${v.reason}): ${v.detail}`), {
              code: 'UNAUTHENTICATED',
              details: { reason: v.reason },
            });
          }
          await this.firstRequest(m.subject, msgId);
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
        await this.respondError(m, body);
      } finally {
        span.end();
      }
    });
  }

  /**
   * Refuses a request whose signed msg id was already answered within the duplicate window
   * (by any replica): a captured request replayed while still fresh runs once. A store
   * that cannot answer refuses the request (UNAVAILABLE) rather than run it unchecked.
   */
  private async firstRequest(subject: string, msgId: string): Promise<void> {
    const dedup = this.dedup;
    if (!dedup) return;
    let claim;
    try {
      claim = await dedup.claim('rpc', msgId, this.opts.config.instanceId);
    } catch (err) {
      this.opts.logger?.warn({ err, subject }, 'de-duplication store unavailable');
      throw Object.assign(new Error('cannot check the request for a replay; retry later'), {
        code: 'UNAVAILABLE',
      });
    }
    if (claim.first) return;
    duplicates.inc({ scope: 'rpc' });
    rejected.inc({ reason: RejectReason.Duplicate });
    this.opts.logger?.warn({ subject, msg_id: msgId }, 'replayed request refused');
    throw Object.assign(new Error(`request ${msgId} was already received`), {
      code: 'UNAUTHENTICATED',
      details: { reason: RejectReason.Duplicate },
    });
  }
}
