import 'reflect-metadata';
import { loadDeviceSyncConfig } from '@heady/config';
import { bootstrapService } from '@heady/runtime';
import { DeviceSyncModule } from './app.module.js';

const config = loadDeviceSyncConfig();

await bootstrapService({
  config,
  module: (runtime) => DeviceSyncModule.register(runtime),
  consumers: [],
  queueGroup: 'device-sync',
  http: { port: config.ops.port },
});
