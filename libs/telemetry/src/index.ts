export { initTracing, type Tracing } from './tracing.js';
export {
  createLogger,
  currentLogContext,
  withLogContext,
  type LogContext,
  type Logger,
} from './logger.js';
export { PinoNestLogger } from './nest-logger.js';
export { counter, enableDefaultMetrics, gauge, histogram, metricsRegistry } from './metrics.js';
export {
  OpsController,
  OpsModule,
  ReadinessRegistry,
  type ReadinessCheck,
  type ReadinessReport,
} from './ops.js';
export { HttpTraceInterceptor } from './http-trace.interceptor.js';
export { runWithSpan } from './span.js';
