import { context, trace } from '@opentelemetry/api';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { currentLogContext, withLogContext } from './log-context.js';
import { createLogger } from './logger.js';
import { initTracing } from './tracing.js';

function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ service: 'svc', instanceId: 'svc-1', logLevel: 'info' }, dest);
  return { lines, logger };
}

describe(createLogger.name, () => {
  beforeAll(() => {
    initTracing({
      service: 'svc',
      instanceId: 'svc-1',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    });
  });

  it('writes JSON lines carrying service, instance, level label and ISO time', () => {
    const { lines, logger } = capture();
    logger.warn({ n: 1 }, 'hello');
    expect(lines[0]).toMatchObject({
      level: 'warn',
      service: 'svc',
      instance: 'svc-1',
      n: 1,
      msg: 'hello',
    });
    expect(new Date(lines[0]?.time as string).toISOString()).toBe(lines[0]?.time);
  });

  it('puts the trace id and span id of the active span on a line written inside it', () => {
    const { lines, logger } = capture();
    const span = trace.getTracer('t').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
    span.end();
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      msg: 'inside',
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
    expect(span.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(lines[1]).not.toHaveProperty('trace_id');
    expect(lines[1]).not.toHaveProperty('span_id');
  });

  it('adds run_id and other fields from withLogContext across awaits without leaking them outside', async () => {
    const { lines, logger } = capture();
    await withLogContext({ runId: 'run-1', stage: 'plan' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.info('in run');
    });
    logger.info('after');
    expect(lines[0]).toMatchObject({ msg: 'in run', run_id: 'run-1', stage: 'plan' });
    expect(lines[0]).not.toHaveProperty('runId');
    expect(lines[1]).not.toHaveProperty('run_id');
    expect(lines[1]).not.toHaveProperty('stage');
  });

  it('keeps concurrent log contexts apart', async () => {
    const { lines, logger } = capture();
    const job = (runId: string, delay: number) =>
      withLogContext({ runId }, async () => {
        await new Promise((r) => setTimeout(r, delay));
        logger.info(runId);
      });
    await Promise.all([job('run-a', 5), job('run-b', 1)]);
    expect(lines.map((l) => [l.msg, l.run_id])).toEqual([
      ['run-b', 'run-b'],
      ['run-a', 'run-a'],
    ]);
  });

  it('lets fields passed to the log call win over the context', () => {
    const { lines, logger } = capture();
    withLogContext({ stage: 'plan' }, () => logger.info({ stage: 'execute' }, 'x'));
    expect(lines[0]?.stage).toBe('execute');
  });
});

describe(withLogContext.name, () => {
  it('merges nested contexts, the inner value winning, and exposes them through currentLogContext', () => {
    expect(currentLogContext()).toBeUndefined();
    withLogContext({ runId: 'r1', stage: 'plan' }, () => {
      withLogContext({ stage: 'execute', task: 't1' }, () => {
        expect(currentLogContext()).toEqual({ runId: 'r1', stage: 'execute', task: 't1' });
      });
      expect(currentLogContext()).toEqual({ runId: 'r1', stage: 'plan' });
    });
  });

  it('returns what the function returns', () => {
    expect(withLogContext({ runId: 'r' }, () => 42)).toBe(42);
  });
});
