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
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { type CommonConfig } from '@heady/config';

/** The process's tracer and how to flush it. */
export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

let current: Tracing | undefined;

/**
 * Registers the global tracer provider: W3C trace context + baggage propagation,
 * AsyncLocalStorage context, parent-based ratio sampling, and an OTLP/HTTP exporter
 * when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without an exporter spans still get real
 * ids, so logs and headers can name the trace. Calling it twice returns the first.
 */
export function initTracing(
  config: Pick<CommonConfig, 'service' | 'instanceId' | 'telemetry'>,
): Tracing {
  if (current) return current;
  const endpoint = config.telemetry.otlpEndpoint;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.service,
      'service.instance.id': config.instanceId,
    }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(config.telemetry.sampleRatio),
    }),
    spanProcessors: endpoint
      ? [
          new BatchSpanProcessor(
            new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }),
          ),
        ]
      : [],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(provider);
  current = { tracer: trace.getTracer('heady', '0.1.0'), shutdown: () => provider.shutdown() };
  return current;
}
