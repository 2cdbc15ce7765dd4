import 'reflect-metadata';
import { loadKnowledgeVaultConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { KnowledgeVaultModule } from './app.module.js';

const config = loadKnowledgeVaultConfig();

await bootstrapService({
  config,
  module: (runtime) => KnowledgeVaultModule.register(runtime),
  consumers: [],
  queueGroup: 'knowledge-vault',
  http: { port: config.ops.port },
});
