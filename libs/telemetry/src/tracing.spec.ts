import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { initTracing, type TracingConfig } from './tracing.js';

const config = (sampleRatio: number): TracingConfig => ({
  service: 'tracing-test',
  instanceId: 'tracing-1',
  telemetry: { otlpEndpoint: undefined, sampleRatio },
});

describe(initTracing.name, () => {
  afterAll(async () => {
    await initTracing(config(1)).shutdown();
  });

  it('returns the same tracing when called twice', () => {
    const a = initTracing(config(1));
    expect(initTracing(config(0))).toBe(a);
  });

  it('records spans with real ids and the service resource without an exporter', () => {
    const span = initTracing(config(1)).tracer.startSpan('s');
    expect(span.isRecording()).toBe(true);
    span.end();
    expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    expect((span as unknown as ReadableSpan).resource.attributes).toMatchObject({
      'service.name': 'tracing-test',
      'service.instance.id': 'tracing-1',
    });
  });

  it('registers W3C traceparent and baggage propagation', () => {
    const carrier: Record<string, string> = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      baggage: 'tenant=acme',
    };
    const ctx = propagation.extract(ROOT_CONTEXT, carrier);
    expect(trace.getSpanContext(ctx)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(propagation.getBaggage(ctx)?.getEntry('tenant')?.value).toBe('acme');
  });

  it('after shutdown starts afresh; a zero ratio still gives ids but follows a sampled parent', async () => {
    const first = initTracing(config(1));
    await first.shutdown();
    await first.shutdown(); // safe twice
    const second = initTracing(config(0));
    expect(second).not.toBe(first);

    const root = second.tracer.startSpan('root');
    expect(root.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(root.spanContext())).toBe(true);

    const parent = propagation.extract(ROOT_CONTEXT, {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    const child = second.tracer.startSpan('child', {}, parent);
    expect(child.isRecording()).toBe(true);
    context.with(trace.setSpan(ROOT_CONTEXT, child), () => {
      expect(trace.getActiveSpan()).toBe(child);
    });
    child.end();
    root.end();
    await second.shutdown();
  });
});
