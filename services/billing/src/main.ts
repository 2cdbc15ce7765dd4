import 'reflect-metadata';
import { loadBillingConfig } from '@heady/config';
import { RUN_STATE_EVENTS } from '@heady/contracts';
import { bootstrapService } from '@heady/runtime';
import { BillingModule } from './app.module.js';

const config = loadBillingConfig();

await bootstrapService({
  config,
  module: (runtime) => BillingModule.register(runtime),
  // replicas share the RPCs (`bill.*`) and one durable of run events (usage is recorded
  // once per run whichever replica gets it); the grace sweep's row locks (SKIP LOCKED)
  // keep two replicas from dropping one subscription twice
  consumers: [
    {
      stream: 'RUN_EVENTS',
      durable: 'billing-usage',
      filterSubject: RUN_STATE_EVENTS,
      ackWaitMs: 30_000,
      maxDeliver: 20,
      backoffMs: [500, 2_000, 10_000, 30_000],
    },
  ],
  queueGroup: 'billing',
  http: { port: config.ops.port },
});
