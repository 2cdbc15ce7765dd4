import { type MessageVerifier, RejectReason } from '@heady/pqc';
import { type Logger } from '@heady/telemetry';
import { type Msg, type MsgHdrs, type Subscription, headers } from '@nats-io/transport-node';
import { type MessageHandler } from '@nestjs/microservices';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { decode, encodeValue } from '../codec.js';
import { type BusConnection } from '../connection.js';
import { type DedupStore } from '../dedup.js';
import { ERROR_CONTENT_TYPE, Header } from '../ids.js';
import { type BusPublisher } from '../publisher.js';
import { extractTrace } from '../trace-headers.js';
import { invokeHandler } from './handlers.js';
import { duplicates, rejected, rpcOverloaded } from './metrics.js';
import { type RejectionAudit, isAuditSubject } from './rejection.js';

/** Requests that may wait for a slot, per slot of the RPC concurrency cap. */
const RPC_QUEUE_FACTOR = 16;

/** Options of {@link RpcServer}. */
export interface RpcServerOptions {
  bus: BusConnection;
  /** This service's name (in overload messages). */
  service: string;
  /** This instance's id: the owner of the request ids it claims. */
  instanceId: string;
  /** Queue group of the subscriptions, so replicas share requests. */
  queueGroup: string;
  /** Requests running at once; 16 × as many wait, the rest are refused. */
  cap: number;
  /** Verifies every request before its handler runs; a refused one is answered UNAUTHENTICATED. */
  verifier?: MessageVerifier;
  /** The shared msg-id store a verified request's id is claimed in. */
  dedup?: DedupStore;
  /** Signs replies and binds them to their request, when it has a signer. */
  publisher?: BusPublisher;
  audit: RejectionAudit;
  logger?: Logger;
}

/**
 * Answers core NATS requests with `@MessagePattern` handlers: each request is verified and
 * de-duplicated (when there is a verifier), decoded, handled inside a span continuing the
 * caller's trace, and answered with the encoded result or an error `{ code, message,
 * details }`; at most `cap` run at once across every subject this server serves.
 */
export class RpcServer {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: RpcServerOptions) {}

  /** Subscribes to `pattern` in the queue group and answers every request with `handler`. */
  serve(pattern: string, handler: MessageHandler): Subscription {
    const sub = this.opts.bus.nc.subscribe(pattern, { queue: this.opts.queueGroup });
    void (async () => {
      for await (const m of sub) void this.admit(m, handler);
    })();
    return sub;
  }

  /**
   * Runs {@link answer} within the concurrency cap: a request over the cap waits for a
   * slot while fewer than 16 × the cap wait already (a burst is queued, not refused; the
   * caller's timeout bounds the wait); past that it is answered at once with
   * RESOURCE_EXHAUSTED (the caller sees an overload, not a timeout).
   */
  private async admit(m: Msg, handler: MessageHandler): Promise<void> {
    const { cap } = this.opts;
    if (this.running >= cap) {
      if (this.waiting.length >= cap * RPC_QUEUE_FACTOR) {
        rpcOverloaded.inc({ subject: m.subject });
        await this.respondError(m, {
          code: 'RESOURCE_EXHAUSTED',
          message: `${this.opts.service} is answering ${cap} requests and has ${cap * RPC_QUEUE_FACTOR} waiting; retry later`,
          details: { subject: m.subject, cap },
        });
        return;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
    this.running++;
    try {
      await this.answer(m, handler);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** A reply's headers: signed and bound to its request when the publisher signs. */
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
        if (this.opts.verifier) await this.admitRequest(m, this.opts.verifier);
        const data = decode(m.headers?.get(Header.ContentType), m.data);
        const result = await invokeHandler(handler, data, undefined);
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
   * Lets a request through to its handler only when it verifies and its msg id is new
   * ({@link firstRequest}); otherwise throws the coded error it is answered with. A refused
   * request is counted and audited (unless it is an audit event), never dead-lettered.
   */
  private async admitRequest(m: Msg, verifier: MessageVerifier): Promise<void> {
    const msgId = m.headers?.get(Header.MsgId) ?? '';
    const v = await verifier.verify({
      subject: m.subject,
      msgId,
      contentType: m.headers?.get(Header.ContentType) ?? '',
      payload: m.data,
      header: (n) => m.headers?.get(n) || undefined,
    });
    if (!v.ok) {
      rejected.inc({ reason: v.reason });
      if (!isAuditSubject(m.subject)) void this.opts.audit.publish(v, m.subject, { msgId });
      throw Object.assign(new Error(`request rejected (${v.reason}): ${v.detail}`), {
        code: 'UNAUTHENTICATED',
        details: { reason: v.reason },
      });
    }
    await this.firstRequest(m.subject, msgId);
  }

  /**
   * Refuses a request whose signed msg id was already answered within the duplicate window
   * (by any replica): a captured request replayed while still fresh runs once. A store
   * that cannot answer refuses the request (UNAVAILABLE) rather than run it unchecked.
   */
  private async firstRequest(subject: string, msgId: string): Promise<void> {
    const dedup = this.opts.dedup;
    if (!dedup) return;
    let claim;
    try {
      claim = await dedup.claim('rpc', msgId, this.opts.instanceId);
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
