import 'reflect-metadata';
import { loadVectorMemoryConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { VectorMemoryModule } from './app.module.js';
import { openMemory } from './memory.js';

const config = loadVectorMemoryConfig();
const memory = await openMemory(config);

await bootstrapService({
  config,
  module: (runtime) => VectorMemoryModule.register(runtime, memory),
  consumers: [],
  queueGroup: 'vector-memory',
  http: { port: config.ops.port },
});
