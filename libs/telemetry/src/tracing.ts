import { type CommonConfig } from '@heady/config';
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The process's tracer and how to flush it. */
export interface Tracing {
  /** The tracer Heady code starts its own spans with. */
  tracer: Tracer;
  /**
   * Flushes queued spans to the collector, stops the exporter and unregisters the
   * global provider, context manager and propagator (so a later `initTracing` starts afresh).
   * Safe to call more than once.
   */
  shutdown(): Promise<void>;
}

/** The part of the config tracing reads. */
export type TracingConfig = Pick<CommonConfig, 'service' | 'instanceId' | 'telemetry'>;

/** Name of the tracer the library itself starts spans with (HTTP server spans, runWithSpan). */
export const TRACER_NAME = '@heady/telemetry';

let current: Tracing | undefined;

function exporters(endpoint: string | undefined): SpanProcessor[] {
  if (!endpoint) return [];
  // OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to /v1/traces under it.
  const url = `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  return [new BatchSpanProcessor(new OTLPTraceExporter({ url }))];
}

/**
 * Registers the global tracer provider for this process: resource `service.name` /
 * `service.instance.id`, W3C `traceparent` + `baggage` propagation, AsyncLocalStorage
 * context, ParentBased(TraceIdRatio(sampleRatio)) sampling, and — only when
 * `telemetry.otlpEndpoint` is set — a batching OTLP/HTTP exporter to
 * `<endpoint>/v1/traces`. Without an exporter spans still get real ids, so logs and
 * response headers can name the trace. Calling it again before `shutdown` returns the
 * first result unchanged.
 */
export function initTracing(config: TracingConfig): Tracing {
  if (current) return current;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.service,
      [ATTR_SERVICE_INSTANCE_ID]: config.instanceId,
    }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(config.telemetry.sampleRatio),
    }),
    spanProcessors: exporters(config.telemetry.otlpEndpoint),
  });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  });

  let stopped: Promise<void> | undefined;
  const tracing: Tracing = {
    tracer: trace.getTracer(TRACER_NAME),
    shutdown: () =>
      (stopped ??= provider.shutdown().finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
        if (current === tracing) current = undefined;
      })),
  };
  current = tracing;
  return tracing;
}
