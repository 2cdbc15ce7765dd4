// The public API of @heady/telemetry; everything else is internal.
export { initTracing, type Tracing, type TracingConfig } from './tracing.js';
export { createLogger, type Logger, type LoggerConfig } from './logger.js';
export { currentLogContext, withLogContext, type LogContext } from './log-context.js';
export { PinoNestLogger } from './nest-logger.js';
export {
  DEFAULT_SECONDS_BUCKETS,
  counter,
  enableDefaultMetrics,
  gauge,
  histogram,
  metricsRegistry,
} from './metrics.js';
export { httpRequestDuration, httpRequests } from './http-metrics.js';
export {
  READINESS_TIMEOUT_MS,
  ReadinessRegistry,
  type ReadinessCheck,
  type ReadinessOutcome,
  type ReadinessReport,
} from './readiness.js';
export { LivenessController, OpsController } from './ops.controller.js';
export { startOpsServer, type OpsServer } from './ops-server.js';
export { OpsModule, type OpsModuleOptions } from './ops.module.js';
export { HttpTraceInterceptor } from './http-trace.interceptor.js';
export { Untraced } from './untraced.js';
export { runWithSpan, type RunWithSpanOptions } from './span.js';
