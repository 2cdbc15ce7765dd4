import 'reflect-metadata';
import { loadBillingConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { BillingModule } from './app.module.js';

const config = loadBillingConfig();

await bootstrapService({
  config,
  module: (runtime) => BillingModule.register(runtime),
  // request/reply only (`bill.*`); replicas share the RPCs, and the grace sweep's row locks
  // (SKIP LOCKED) keep two replicas from dropping one subscription twice
  consumers: [],
  queueGroup: 'billing',
  http: { port: config.ops.port },
});
