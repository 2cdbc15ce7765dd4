import 'reflect-metadata';
import { loadGatewayConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { GatewayModule } from './app.module.js';
import { jsonBodyParser } from './problem/json-body.js';

const config = loadGatewayConfig();

await bootstrapService({
  config,
  module: (runtime) => GatewayModule.register(runtime),
  http: { port: config.http.port, host: config.http.host, bodyLimit: config.http.bodyLimitBytes },
  bodyParser: false,
  configure: (app) => {
    const fastify = app.getHttpAdapter().getInstance();
    fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser);
  },
});
