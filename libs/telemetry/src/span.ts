import {
  type Attributes,
  type Context,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
} from '@opentelemetry/api';

/** Runs `fn` inside a new active span, recording an exception and ending the span however it ends. */
export async function runWithSpan<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  opts: { kind?: SpanKind; parent?: Context } = {},
): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = trace
    .getTracer('@heady/telemetry')
    .startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (e) {
    span.recordException(e as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    span.end();
  }
}
