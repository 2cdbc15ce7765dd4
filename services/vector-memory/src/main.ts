import 'reflect-metadata';
import { loadVectorMemoryConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { VectorMemoryModule } from './app.module.js';

const config = loadVectorMemoryConfig();

await bootstrapService({
  config,
  module: (runtime) => VectorMemoryModule.register(runtime),
  consumers: [],
  queueGroup: 'vector-memory',
  http: { port: config.ops.port },
});
