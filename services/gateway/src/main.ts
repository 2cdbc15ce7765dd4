import 'reflect-metadata';
import { loadGatewayConfig } from '@heady/config';
import { TIER_CHANGED_SUBJECT } from '@heady/contracts';
import { bootstrapService } from '@heady/runtime';
import { GATEWAY_CONTROLLERS, GatewayModule } from './app.module.js';
import { buildOpenApiDocument, serveOpenApi } from './openapi/openapi.js';
import { frameworkErrorOptions } from './problem/framework-errors.js';
import { httpTimeouts, keepEventStreamsOpen } from './problem/timeouts.js';
import { acceptJsonOnly } from './problem/json-body.js';

const config = loadGatewayConfig();

await bootstrapService({
  config,
  module: (runtime) => GatewayModule.register(runtime),
  // billing's plan changes (BILLING stream): one durable shared by every gateway replica,
  // since what it updates (PostgreSQL, the Redis tier cache) is shared too
  consumers: [
    {
      stream: 'BILLING',
      durable: 'gateway-tiers',
      filterSubject: TIER_CHANGED_SUBJECT,
      ackWaitMs: 30_000,
      maxDeliver: 10,
      backoffMs: [500, 2_000, 10_000, 30_000],
    },
  ],
  http: {
    port: config.http.port,
    host: config.http.host,
    bodyLimit: config.http.bodyLimitBytes,
    fastify: (logger) => ({
      ...frameworkErrorOptions(logger),
      ...httpTimeouts(config.http),
    }),
  },
  // /readyz and /metrics only on the ops port: the API port is public
  ops: config.ops,
  bodyParser: false,
  configure: (app) => {
    const fastify = app.getHttpAdapter().getInstance();
    acceptJsonOnly(fastify);
    fastify.addHook('onRequest', keepEventStreamsOpen);
    serveOpenApi(app, buildOpenApiDocument(app, GATEWAY_CONTROLLERS));
  },
});
