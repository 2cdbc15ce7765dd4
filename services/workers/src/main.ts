import 'reflect-metadata';
import { workConsumer } from '@heady/bus';
import { loadWorkersConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { WorkersModule } from './app.module.js';
import { TASK_MAX_ATTEMPTS } from './tasks/task-runner.service.js';

const config = loadWorkersConfig();

await bootstrapService({
  config,
  module: (runtime) => WorkersModule.register(runtime),
  // One durable (`workers` on `work.*`) shared by every workers process: SREs scale the
  // workers by running more of them. A task's delivery is kept alive while its providers
  // work; a crashed worker's tasks come back after the ack wait. Spare deliveries cover
  // PostgreSQL or NATS outages, which never count as the task's attempts.
  consumers: [
    workConsumer({ ackWaitMs: config.work.ackWaitMs, maxDeliver: TASK_MAX_ATTEMPTS + 40 }),
  ],
  queueGroup: 'workers',
  http: { port: config.ops.port },
});
