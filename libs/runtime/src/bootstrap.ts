import 'reflect-metadata';
import { type CommonConfig } from '@heady/config';
import {
  BusExceptionFilter,
  BusPublisher,
  type ConsumerSpec,
  JetStreamServer,
  connectBus,
} from '@heady/bus';
import { setupSecurity } from './security.js';
import { type RejectedAuditSink } from '@heady/bus';
import {
  PinoNestLogger,
  ReadinessRegistry,
  createLogger,
  enableDefaultMetrics,
  initTracing,
  HttpTraceInterceptor,
  type Logger,
  type OpsServer,
  startOpsServer,
} from '@heady/telemetry';
import { type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

/** The Fastify server options a service may add (what FastifyAdapter accepts). */
type FastifyServerOptions = NonNullable<ConstructorParameters<typeof FastifyAdapter>[0]>;
import { RuntimeModule } from './runtime.module.js';

/** What {@link bootstrapService} needs to start one Heady process. */
export interface ServiceBootstrap<C extends CommonConfig> {
  config: C;
  /** The service's feature module; built with the runtime providers available globally. */
  module: (runtime: DynamicModule) => Type | DynamicModule;
  /** Durable JetStream consumers this process runs (empty for request/reply only). */
  consumers?: ConsumerSpec[];
  /** Queue group for request/reply handlers, so replicas share RPCs. */
  queueGroup?: string;
  /** The HTTP port: the API for the gateway, the ops endpoints for every other service. */
  http: {
    port: number;
    host?: string;
    bodyLimit?: number;
    /**
     * More Fastify server options (error handlers that run before any route, router limits).
     * Loosely typed: the service's fastify types need not be the adapter's copy.
     */
    fastify?: (logger: Logger) => object;
  };
  /**
   * A separate ops listener for /readyz and /metrics (and /healthz), for a service whose
   * HTTP port is public: the app then keeps only /healthz.
   */
  ops?: { port: number; host: string };
  /** False when `configure` installs its own body parsers. */
  bodyParser?: boolean;
  /** Runs on the Fastify adapter before listen (content parsers, hooks). */
  configure?: (app: NestFastifyApplication, logger: Logger) => void | Promise<void>;
  /**
   * Where this process records its rejections of audit events (`audit.>`), which are never
   * published as audit events again (see JetStreamServerOptions.rejectedAuditSink).
   */
  rejectedAuditSink?: (app: NestFastifyApplication) => RejectedAuditSink;
}

/**
 * Once shutdown has begun, every response says `Connection: close`: a keep-alive socket
 * whose request was in flight when the server closed would otherwise stay open (Fastify
 * closes only the sockets idle at that moment) and hold the shutdown until it is forced.
 */
function closeConnectionsOnShutdown(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
}

/**
 * Starts one service process: tracing first (so every later span has a provider), the
 * JSON logger, a bus connection, the Nest app on Fastify with the JetStream transport
 * attached, the HTTP listener; SIGTERM/SIGINT shut it all down in order.
 */
export async function bootstrapService<C extends CommonConfig>(
  opts: ServiceBootstrap<C>,
): Promise<INestApplication> {
  const { config } = opts;
  const tracing = initTracing(config);
  const logger = createLogger(config);
  enableDefaultMetrics(config.service);
  process.on('unhandledRejection', (reason) =>
    logger.error({ err: reason }, 'unhandled rejection'),
  );

  const bus = await connectBus(config);
  const security = config.signing.enabled ? await setupSecurity(config, bus, logger) : undefined;
  if (!security)
    logger.warn('bus signing is OFF (HEADY_SIGNING=off): messages are neither signed nor verified');
  const publisher = new BusPublisher(
    bus,
    logger,
    security?.signer,
    security?.sealing,
    security?.verifier,
    config.service,
  );
  const adapter = new FastifyAdapter({
    ...(opts.http.fastify?.(logger) as FastifyServerOptions | undefined),
    bodyLimit: opts.http.bodyLimit ?? 1_048_576,
    trustProxy: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    opts.module(RuntimeModule.forRoot(config, logger, publisher, opts.ops ? 'liveness' : 'all')),
    adapter,
    {
      logger: new PinoNestLogger(logger),
      bufferLogs: false,
      bodyParser: opts.bodyParser ?? true,
    },
  );
  app.useGlobalInterceptors(new HttpTraceInterceptor());
  closeConnectionsOnShutdown(app);
  await opts.configure?.(app, logger);

  const server = new JetStreamServer({
    config,
    consumers: opts.consumers ?? [],
    queueGroup: opts.queueGroup ?? config.service,
    logger,
    concurrency: config.nats.consumerConcurrency,
    publisher,
    ...(security ? { verifier: security.verifier, sealing: security.sealing } : {}),
    ...(opts.rejectedAuditSink ? { rejectedAuditSink: opts.rejectedAuditSink(app) } : {}),
  });
  // deferInitialization: register the filter before the microservice wires its handlers.
  const microservice = app.connectMicroservice({ strategy: server }, { deferInitialization: true });
  // Handler errors reach the transport unchanged (PermanentError → DLQ, domain codes → replies).
  microservice.useGlobalFilters(new BusExceptionFilter());
  app.get(ReadinessRegistry).register('bus-consumers', () => server.isReady());

  await app.startAllMicroservices();
  await app.listen({ port: opts.http.port, host: opts.http.host ?? '127.0.0.1' });
  const ops: OpsServer | undefined = opts.ops
    ? await startOpsServer(app.get(ReadinessRegistry), opts.ops)
    : undefined;
  logger.info(
    {
      port: opts.http.port,
      opsPort: ops?.port,
      consumers: (opts.consumers ?? []).map((c) => c.durable),
    },
    `${config.service} ready`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${config.service} stopping`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    void app
      .close()
      .then(() => ops?.close())
      .then(() => security?.stop())
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return app;
}
