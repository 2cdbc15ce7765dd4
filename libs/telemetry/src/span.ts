import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
} from '@opentelemetry/api';
import { TRACER_NAME } from './tracing.js';

/** Options of {@link runWithSpan}. */
export interface RunWithSpanOptions {
  /** Span kind; INTERNAL unless given (CONSUMER for a bus handler, CLIENT for an outgoing call). */
  kind?: SpanKind;
  /** Context to start the span under (e.g. extracted from message headers); the active one unless given. */
  parent?: Context;
}

/**
 * Starts span `name` with `attributes` under `opts.parent` (or the active context),
 * runs `fn` with that span active — so logs, child spans and propagated headers inside
 * it name this span — and ends the span however `fn` ends. A throw or rejection is
 * recorded on the span as an exception with ERROR status and then rethrown.
 */
export async function runWithSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => T | Promise<T>,
  opts: RunWithSpanOptions = {},
): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    span.end();
  }
}
