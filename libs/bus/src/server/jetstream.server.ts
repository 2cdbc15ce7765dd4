import { type CommonConfig } from '@heady/config';
import { type MessageVerifier } from '@heady/pqc';
import { type Logger } from '@heady/telemetry';
import { type Subscription } from '@nats-io/transport-node';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { type BusConnection, closeBus, connectBus } from '../connection.js';
import { watchMaxDeliveries } from '../dead-letter.js';
import { DedupStore } from '../dedup.js';
import { type BusPublisher } from '../publisher.js';
import { type PayloadSealing } from '../sealing.js';
import {
  type ConsumerSpec,
  KV_BUCKETS,
  STREAMS,
  type StreamSpec,
  ensureTopology,
} from '../topology.js';
import { DeliveryAdmission } from './admission.js';
import { ConsumeLoops } from './consume-loop.js';
import { RejectionAudit, type RejectedAuditSink } from './rejection.js';
import { ungrantedPatterns } from './rpc-handler.js';
import { RpcServer } from './rpc-server.js';

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
 * JetStream consumers with explicit acks ({@link ConsumeLoops}); `@MessagePattern(subject)`
 * handlers answer core NATS requests ({@link RpcServer}). With a verifier, nothing reaches a
 * handler that admission refused ({@link DeliveryAdmission}). Every handler runs inside a
 * span continuing the sender's trace.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private bus: BusConnection | undefined;
  private readonly subs: Subscription[] = [];
  private readonly consumers: ConsumeLoops;
  private running = false;
  private connected = false;
  private closing = false;

  constructor(private readonly opts: JetStreamServerOptions) {
    super();
    this.consumers = new ConsumeLoops({
      consumers: opts.consumers,
      handlers: this.messageHandlers,
      concurrency: opts.concurrency,
      logger: opts.logger,
    });
  }

  /** Connects, creates the topology, starts consumers and RPC subscriptions. */
  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  private async start(): Promise<void> {
    const { config, logger } = this.opts;
    const ungranted = ungrantedPatterns(config.service, this.messageHandlers.keys());
    if (ungranted.length)
      throw new Error(
        `${config.service} handles ${ungranted.join(', ')}, which the bus catalog (libs/contracts) does not grant it`,
      );
    const bus = await connectBus(config, { name: `${config.instanceId}-server` });
    this.bus = bus;
    this.connected = true;
    this.watchStatus(bus);
    await ensureTopology(bus.nc, {
      jsm: bus.jsm,
      streams: this.opts.streams ?? STREAMS,
      consumers: this.opts.consumers,
      kv: this.opts.kv ?? KV_BUCKETS,
      config,
    });
    // (stream, msg id) and request ids seen within the duplicate window, shared by every replica
    const dedup = this.opts.verifier
      ? await DedupStore.open(
          bus.nc,
          bus.jsm,
          config.nats.duplicateWindowSeconds,
          config.nats.streamReplicas,
        )
      : undefined;
    const audit = new RejectionAudit({
      actor: config.instanceId,
      publisher: this.opts.publisher,
      sink: this.opts.rejectedAuditSink,
      logger,
    });
    const rpc = new RpcServer({
      bus,
      service: config.service,
      instanceId: config.instanceId,
      queueGroup: this.opts.queueGroup ?? config.service,
      cap: this.opts.rpcConcurrency ?? config.nats.rpcConcurrency ?? 64,
      verifier: this.opts.verifier,
      dedup,
      publisher: this.opts.publisher,
      audit,
      logger,
    });
    for (const [pattern, handler] of this.messageHandlers) {
      if (!handler.isEventHandler) this.subs.push(rpc.serve(pattern, handler));
    }
    this.subs.push(...watchMaxDeliveries(bus.nc, bus.js, bus.jsm, this.opts.consumers, logger));
    this.running = true;
    const verifier = this.opts.verifier;
    const admission = verifier
      ? new DeliveryAdmission({ verifier, dedup, sealing: this.opts.sealing, audit, logger })
      : undefined;
    this.consumers.start(bus, admission);
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
      this.consumers.allLive()
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
    await this.consumers.stop();
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
}
