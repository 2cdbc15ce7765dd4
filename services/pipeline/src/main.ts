import 'reflect-metadata';
import { stageConsumer } from '@heady/bus';
import { loadPipelineConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { PipelineModule } from './app.module.js';

const config = loadPipelineConfig();

await bootstrapService({
  config,
  module: (runtime) => PipelineModule.register(runtime),
  // One durable consumer per stage: SREs scale a stage by running more processes with
  // HEADY_PIPELINE_STAGES=<stage>; they share the durable, so JetStream spreads the work.
  consumers: config.stages.map((s) => stageConsumer(s, config.stageConsumer)),
  queueGroup: 'pipeline',
  http: { port: config.ops.port },
});
