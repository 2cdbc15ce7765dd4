import 'reflect-metadata';
import { loadVectorMemoryConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { VectorMemoryModule } from './app.module.js';
import { openMemory } from './embeddings/embedder.js';

const config = loadVectorMemoryConfig();
const log = createLogger(config);
// clients read only "the embedding provider answered HTTP 500"; the URL and body go here
const memory = await openMemory(config, (err) => log.warn({ err }, 'embedding provider failed'));

await bootstrapService({
  config,
  module: (runtime) => VectorMemoryModule.register(runtime, memory),
  consumers: [],
  queueGroup: 'vector-memory',
  http: { port: config.ops.port },
});
