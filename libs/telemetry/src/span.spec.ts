import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWithSpan } from './span.js';
import { initTracing } from './tracing.js';

describe(runWithSpan.name, () => {
  beforeAll(() => {
    initTracing({
      service: 'span-test',
      instanceId: 'span-1',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    });
  });

  it('makes the span active for the function and what it awaits, then ends it', async () => {
    let seen: ReadableSpan | undefined;
    const out = await runWithSpan('work', { 'heady.k': 'v' }, async (span) => {
      await new Promise((r) => setTimeout(r, 1));
      expect(trace.getActiveSpan()).toBe(span);
      seen = span as unknown as ReadableSpan;
      return 7;
    });
    expect(out).toBe(7);
    expect(seen?.ended).toBe(true);
    expect(seen?.name).toBe('work');
    expect(seen?.kind).toBe(SpanKind.INTERNAL);
    expect(seen?.attributes).toMatchObject({ 'heady.k': 'v' });
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('records a thrown error on the span with ERROR status and rethrows it', async () => {
    let seen: ReadableSpan | undefined;
    await expect(
      runWithSpan('fails', {}, (span) => {
        seen = span as unknown as ReadableSpan;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(seen?.ended).toBe(true);
    expect(seen?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(seen?.events.map((e) => e.name)).toContain('exception');
  });

  it('starts the span under the given parent and kind', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    const span = await runWithSpan('consume', {}, (s) => s, {
      kind: SpanKind.CONSUMER,
      parent,
    });
    expect(span.spanContext().traceId).toBe(traceId);
    expect((span as unknown as ReadableSpan).kind).toBe(SpanKind.CONSUMER);
    expect((span as unknown as ReadableSpan).parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });
});
