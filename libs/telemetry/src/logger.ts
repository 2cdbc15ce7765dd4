import { type CommonConfig } from '@heady/config';
import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';
import { currentLogContext } from './log-context.js';

export type { Logger };

/** The part of the config the logger reads. */
export type LoggerConfig = Pick<CommonConfig, 'service' | 'instanceId' | 'logLevel'>;

/** Fields taken from the async context at the moment a line is written. */
function contextFields(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ctx = currentLogContext();
  if (ctx) {
    const { runId, ...rest } = ctx;
    Object.assign(out, rest);
    if (runId !== undefined) out.run_id = runId;
  }
  const span = trace.getActiveSpan()?.spanContext();
  if (span && trace.isSpanContextValid(span)) {
    out.trace_id = span.traceId;
    out.span_id = span.spanId;
  }
  return out;
}

/**
 * A pino logger writing one JSON object per line (to stdout unless `destination` is
 * given) with `level` as a label, an ISO `time`, `service`, `instance`, the active
 * OpenTelemetry span's `trace_id`/`span_id`, and `run_id` plus any other field of the
 * current {@link withLogContext}. Fields passed to the log call itself win over these.
 */
export function createLogger(config: LoggerConfig, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: config.service, instance: config.instanceId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: contextFields,
  };
  // pino's default destination is synchronous stdout, so nothing is lost on process.exit.
  return destination ? pino(options, destination) : pino(options);
}
