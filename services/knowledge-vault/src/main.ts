import 'reflect-metadata';
import { loadKnowledgeVaultConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { KnowledgeVaultModule } from './app.module.js';
import { PIPELINE_RESULTS_CONSUMER } from './pipeline/consumer.js';

const config = loadKnowledgeVaultConfig();

await bootstrapService({
  config,
  module: (runtime) => KnowledgeVaultModule.register(runtime),
  consumers: [PIPELINE_RESULTS_CONSUMER],
  queueGroup: 'knowledge-vault',
  http: { port: config.ops.port },
});
