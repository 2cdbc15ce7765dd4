import { trace } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';
import { type CommonConfig } from '@heady/config';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Fields every log line written inside {@link withLogContext} carries (e.g. `run_id`). */
export interface LogContext {
  runId?: string;
  [field: string]: unknown;
}

const store = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `fields` added to every log line written during it (and whatever it awaits). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return store.run({ ...store.getStore(), ...fields }, fn);
}

/** The log context of the current async flow, if any. */
export function currentLogContext(): LogContext | undefined {
  return store.getStore();
}

/**
 * A pino JSON logger whose every line carries `service`, `instance`, the active span's
 * `trace_id`/`span_id`, and `run_id` plus any other fields of the log context.
 */
export function createLogger(
  config: Pick<CommonConfig, 'service' | 'instanceId' | 'logLevel'>,
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: config.service, instance: config.instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const out: Record<string, unknown> = {};
        const span = trace.getActiveSpan()?.spanContext();
        if (span && trace.isSpanContextValid(span)) {
          out.trace_id = span.traceId;
          out.span_id = span.spanId;
        }
        const ctx = store.getStore();
        if (ctx) {
          const { runId, ...rest } = ctx;
          if (runId) out.run_id = runId;
          Object.assign(out, rest);
        }
        return out;
      },
    },
    destination,
  );
}
