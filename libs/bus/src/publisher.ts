import { type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { type PubAck } from '@nats-io/jetstream';
import { type MsgHdrs, RequestError, TimeoutError, headers } from '@nats-io/transport-node';
import {
  type Classification,
  type MessageSigner,
  type MessageVerifier,
  replyMsgId,
} from '@heady/pqc';
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  type Rpc,
  type RpcReply,
  type RpcRequest,
  SERVICE_NAMES,
  mayPublish,
} from '@heady/contracts';
import { type Logger, counter } from '@heady/telemetry';
import { type Payload, decode, encode } from './codec.js';
import { type BusConnection } from './connection.js';
import { type PayloadSealing } from './sealing.js';
import { PublishError, RemoteError } from './errors.js';
import { ERROR_CONTENT_TYPE, Header } from './ids.js';
import { injectTrace } from './trace-headers.js';

/** Options of {@link BusPublisher.publish}. */
export interface PublishOptions {
  /** Required: derived from what the message means, so a retried publish is dropped by JetStream's duplicate window. */
  msgId: string;
  headers?: Record<string, string>;
  /** Fail unless the subject is captured by this stream. */
  expectStream?: string;
  /** Bound into the signature (default INTERNAL). */
  classification?: Classification;
  /** An operator re-publishing a stored message: `<stream>/<seq>/<original kid>`, signed. */
  replayOf?: string;
}

/** Options of {@link BusPublisher.request}. */
export interface RequestOptions<S extends DescMessage | undefined> {
  timeoutMs: number;
  /** Decode the reply as this protobuf type (otherwise by its Content-Type). */
  replySchema?: S;
  headers?: Record<string, string>;
}

function toHeaders(contentType: string, extra: Record<string, string> = {}): MsgHdrs {
  const h = headers();
  h.set(Header.ContentType, contentType);
  for (const [k, v] of Object.entries(extra)) h.set(k, v);
  injectTrace(h);
  return h;
}

const rejected = counter(
  'heady_bus_rejected_total',
  'Messages refused before any handler ran, by reason',
  ['reason'],
);

/** Publishes signed, traced messages to JetStream and makes request/reply calls. */
export class BusPublisher {
  constructor(
    /** The connection it publishes on (only `nc` and `js` are used). */
    readonly connection: Pick<BusConnection, 'nc' | 'js'>,
    private readonly log?: Logger,
    /** Signs every message when set (composite ML-DSA-65 + Ed25519, batched). */
    readonly signer?: MessageSigner,
    /** Seals RESTRICTED payloads to their recipient's epoch KEM key (required to publish them). */
    readonly sealing?: PayloadSealing,
    /** Verifies the replies to its requests when set: signed by the requested service, bound to the request. */
    readonly verifier?: MessageVerifier,
    /**
     * The Heady service it publishes for: a publish or request on a subject the bus catalog
     * (libs/contracts) does not grant that service is refused before anything is sent.
     */
    readonly service?: string,
  ) {}

  /** @throws PublishError when the catalog does not grant {@link service} `subject`. */
  private checkGrant(subject: string): void {
    const s = this.service;
    if (s && (SERVICE_NAMES as readonly string[]).includes(s) && !mayPublish(s, subject))
      throw new PublishError(
        subject,
        `${s} may not publish ${subject}: the bus catalog (libs/contracts) does not grant it`,
      );
  }

  /**
   * Headers of a reply to the request `requestMsgId`, published on its inbox: signed (when
   * this publisher signs) under the message id `re:<request msg id>`, which binds it to
   * that request.
   */
  async replyHeaders(
    inbox: string,
    requestMsgId: string,
    contentType: string,
    data: Uint8Array,
    extra: Record<string, string> = {},
  ): Promise<MsgHdrs> {
    const msgId = replyMsgId(requestMsgId);
    return this.signed(inbox, msgId, contentType, data, { ...extra, [Header.MsgId]: msgId });
  }

  private async signed(
    subject: string,
    msgId: string,
    contentType: string,
    data: Uint8Array,
    extra: Record<string, string> = {},
    classification?: Classification,
    replayOf?: string,
  ): Promise<MsgHdrs> {
    const sig = this.signer
      ? await this.signer.sign({
          subject,
          msgId,
          contentType,
          payload: data,
          ...(classification ? { classification } : {}),
          ...(replayOf ? { replayOf } : {}),
        })
      : {};
    return toHeaders(contentType, { ...extra, ...sig });
  }

  /**
   * Publishes to JetStream and waits for its PubAck. On the wire: `Nats-Msg-Id` (duplicate
   * suppression), `Content-Type`, and the W3C `traceparent` of the active span.
   * @throws PublishError when JetStream does not acknowledge (server down, no stream).
   */
  async publish(subject: string, payload: Payload, opts: PublishOptions): Promise<PubAck> {
    if (!opts.msgId)
      throw new PublishError(subject, `a Nats-Msg-Id is required to publish on ${subject}`);
    this.checkGrant(subject);
    const encoded = encode(payload);
    const contentType = encoded.contentType;
    let data = encoded.data;
    if (opts.classification === 'RESTRICTED' && !opts.replayOf) {
      // encrypt, then sign: the signature covers the sealed bytes
      if (!this.sealing)
        throw new PublishError(subject, `RESTRICTED payloads on ${subject} must be sealed`);
      data = await this.sealing.seal(subject, opts.msgId, data);
    }
    const h = await this.signed(
      subject,
      opts.msgId,
      contentType,
      data,
      opts.headers,
      opts.classification,
      opts.replayOf,
    );
    try {
      return await this.connection.js.publish(subject, data, {
        msgID: opts.msgId,
        headers: h,
        ...(opts.expectStream ? { expect: { streamName: opts.expectStream } } : {}),
      });
    } catch (e) {
      this.log?.warn({ err: e, subject, msg_id: opts.msgId }, 'publish failed');
      throw new PublishError(subject, `publish on ${subject} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * Core-NATS publish, signed like every message but kept by no stream and not acknowledged:
   * for what is worth sending only while someone listens (a run's tokens as they are
   * written). At most once: a subscriber that was not there, or a connection that dropped it,
   * never sees it. RESTRICTED payloads are refused (they would travel unsealed to anyone
   * subscribed).
   * @throws PublishError when the catalog does not grant this service `subject`.
   */
  async emit(subject: string, payload: Payload, msgId: string): Promise<void> {
    this.checkGrant(subject);
    const { data, contentType } = encode(payload);
    const h = await this.signed(subject, msgId, contentType, data, { [Header.MsgId]: msgId });
    this.connection.nc.publish(subject, data, { headers: h });
  }

  /**
   * Core-NATS request/reply: one message on `subject` with a `_INBOX` reply subject,
   * `Content-Type`, `traceparent` and a random `Nats-Msg-Id` (`req:<uuid>`, for signing and
   * logs; core NATS does not de-duplicate). The reply is decoded by its `Content-Type`. A
   * handler's error comes back as a `Heady-Error` header and is thrown as
   * {@link RemoteError} with its code; no responder or a timeout is a RemoteError with code
   * `UNAVAILABLE`.
   */
  async request<S extends DescMessage | undefined = undefined>(
    subject: string,
    payload: Payload,
    opts: RequestOptions<S>,
  ): Promise<S extends DescMessage ? MessageShape<S> : unknown> {
    this.checkGrant(subject);
    const { data, contentType } = encode(payload);
    const msgId = `req:${randomUUID()}`;
    const h = await this.signed(subject, msgId, contentType, data, {
      ...opts.headers,
      [Header.MsgId]: msgId,
    });
    let reply;
    try {
      reply = await this.connection.nc.request(subject, data, {
        timeout: opts.timeoutMs,
        headers: h,
      });
    } catch (e) {
      const why =
        e instanceof RequestError && e.isNoResponders()
          ? 'no responders'
          : e instanceof TimeoutError
            ? 'timed out'
            : (e as Error).message;
      throw new RemoteError(
        ErrorCode.Unavailable,
        `request ${subject}: ${why}`,
        { subject },
        { cause: e },
      );
    }
    if (this.verifier) {
      const v = await this.verifier.verify(
        {
          subject: reply.subject,
          msgId: reply.headers?.get(Header.MsgId) ?? '',
          contentType: reply.headers?.get(Header.ContentType) ?? '',
          payload: reply.data,
          header: (n) => reply.headers?.get(n) || undefined,
        },
        { subject, msgId },
      );
      if (!v.ok) {
        rejected.inc({ reason: v.reason });
        this.log?.warn({ subject, reason: v.reason, detail: v.detail }, 'reply rejected');
        throw new RemoteError(
          'UNAUTHENTICATED',
          `reply to ${subject} rejected (${v.reason}): ${v.detail}`,
          { subject, reason: v.reason },
        );
      }
    }
    const err = this.replyError(subject, reply.headers, reply.data);
    if (err !== undefined) {
      const body = JSON.parse(err) as {
        code?: string;
        message?: string;
        details?: Record<string, unknown>;
      };
      throw new RemoteError(
        body.code ?? 'REMOTE',
        body.message ?? 'remote handler failed',
        body.details ?? {},
      );
    }
    return decode(
      reply.headers?.get(Header.ContentType),
      reply.data,
      opts.replySchema,
    ) as S extends DescMessage ? MessageShape<S> : unknown;
  }

  /**
   * Calls the RPC `rpc` ({@link request} on its catalog subject): the request is encoded as
   * its definition says (protobuf or JSON) and the reply typed as its reply.
   */
  async call<R extends Rpc>(
    rpc: R,
    request: RpcRequest<R>,
    opts: Omit<RequestOptions<undefined>, 'replySchema'>,
  ): Promise<RpcReply<R>> {
    const req = rpc.request;
    const rep = rpc.reply;
    const payload: Payload =
      req.kind === 'proto'
        ? { schema: req.schema, message: request as MessageShape<typeof req.schema> }
        : { json: request };
    const reply = await this.request(
      rpc.subject,
      payload,
      rep.kind === 'proto' ? { ...opts, replySchema: rep.schema } : opts,
    );
    return reply as RpcReply<R>;
  }

  /**
   * The error body of a reply, if it is an error. A verified reply is an error exactly when
   * its signed Content-Type is {@link ERROR_CONTENT_TYPE}, and the error is its signed body:
   * a `Heady-Error` header that differs from that body, or sits on a reply that is not an
   * error, was added or changed on the way and the reply is refused. Without a verifier the
   * header is read as sent.
   */
  private replyError(
    subject: string,
    h: MsgHdrs | undefined,
    data: Uint8Array,
  ): string | undefined {
    const header = h?.get(Header.Error) || undefined;
    if (!this.verifier) return header;
    const isError = h?.get(Header.ContentType) === ERROR_CONTENT_TYPE;
    const body = isError ? new TextDecoder().decode(data) : undefined;
    if (header !== undefined && header !== body) {
      rejected.inc({ reason: 'bad-signature' });
      this.log?.warn(
        { subject },
        'reply rejected: Heady-Error header not covered by its signature',
      );
      throw new RemoteError(
        'UNAUTHENTICATED',
        `reply to ${subject} rejected (bad-signature): the Heady-Error header is not the signed error body`,
        { subject, reason: 'bad-signature' },
      );
    }
    return body;
  }
}
