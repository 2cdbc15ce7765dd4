import 'reflect-metadata';
import { compensationConsumer, stageConsumer } from '@heady/bus';
import { loadPipelineConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { PipelineModule } from './app.module.js';
import { STAGES } from './stages/index.js';
import { maxAttemptsOf, SPARE_DELIVERIES } from './stages/stage.js';

const config = loadPipelineConfig();

await bootstrapService({
  config,
  module: (runtime) => PipelineModule.register(runtime),
  // One durable consumer per stage: SREs scale a stage by running more processes with
  // HEADY_PIPELINE_STAGES=<stage>; they share the durable, so JetStream spreads the work.
  // Each consumer follows its stage's declared retry policy: `nak(backoff[n])` between
  // attempts, and spare deliveries for outages and compensation (see StageRunner).
  // Beside it, the stage's compensation consumer (`compensate-<stage>` on
  // `pipeline.compensate.<stage>`), so a stage is undone where it runs (see CompensationRunner).
  consumers: config.stages.flatMap((s) => {
    const settings = {
      ackWaitMs: config.stageConsumer.ackWaitMs,
      maxDeliver: maxAttemptsOf(STAGES[s], config) + SPARE_DELIVERIES,
      backoffMs: STAGES[s].retry.backoff,
    };
    return [stageConsumer(s, settings), compensationConsumer(s, settings)];
  }),
  queueGroup: 'pipeline',
  http: { port: config.ops.port },
});
