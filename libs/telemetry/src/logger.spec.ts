import { context, trace } from '@opentelemetry/api';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, withLogContext } from './logger.js';
import { initTracing } from './tracing.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return {
    lines,
    logger: createLogger({ service: 'svc', instanceId: 'svc-1', logLevel: 'info' }, dest),
  };
}

describe('createLogger', () => {
  beforeAll(() =>
    initTracing({
      service: 'svc',
      instanceId: 'svc-1',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    }),
  );

  it('writes the active span trace id and span id on every line', () => {
    const { lines, logger } = capture();
    const span = trace.getTracer('t').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
    span.end();
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      msg: 'inside',
      service: 'svc',
      instance: 'svc-1',
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
    expect(lines[1]?.trace_id).toBeUndefined();
  });

  it('adds run_id from the log context and does not leak it outside', async () => {
    const { lines, logger } = capture();
    await withLogContext({ runId: 'run-1', stage: 'plan' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.info('in run');
    });
    logger.info('after');
    expect(lines[0]).toMatchObject({ run_id: 'run-1', stage: 'plan' });
    expect(lines[1]?.run_id).toBeUndefined();
  });
});
