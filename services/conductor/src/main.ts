import 'reflect-metadata';
import { loadConductorConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { ConductorModule } from './app.module.js';

const config = loadConductorConfig();

await bootstrapService({
  config,
  module: (runtime) => ConductorModule.register(runtime, { auditWriter: config.audit.writer }),
  consumers: config.audit.writer
    ? [
        {
          stream: 'AUDIT',
          durable: 'audit-writer',
          filterSubject: 'audit.>',
          ackWaitMs: 30_000,
          maxDeliver: 10,
          backoffMs: [500, 2_000, 10_000, 30_000],
        },
      ]
    : [],
  queueGroup: 'conductor',
  http: { port: config.ops.port },
});
