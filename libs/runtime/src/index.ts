export { bootstrapService, type ServiceBootstrap } from './bootstrap.js';
export { RuntimeModule } from './runtime.module.js';
export { CONFIG, DB, LOGGER } from './tokens.js';
