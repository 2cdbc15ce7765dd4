import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpTraceInterceptor } from './http-trace.interceptor.js';
import { counter } from './metrics.js';
import { OpsModule, ReadinessRegistry } from './ops.js';
import { initTracing } from './tracing.js';
import { trace } from '@opentelemetry/api';

@Controller()
class TraceController {
  @Get('whoami')
  whoami(): { traceId: string | undefined } {
    return { traceId: trace.getActiveSpan()?.spanContext().traceId };
  }
}

@Module({ imports: [OpsModule.forRoot()], controllers: [TraceController] })
class AppModule {}

describe(OpsModule.name, () => {
  let app: NestFastifyApplication;
  beforeAll(() =>
    initTracing({
      service: 'ops-test',
      instanceId: 'ops-1',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    }),
  );
  const boot = async (): Promise<NestFastifyApplication> => {
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalInterceptors(new HttpTraceInterceptor());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  };
  afterEach(async () => app?.close());

  it('answers /healthz while the process lives', async () => {
    const res = await (await boot()).inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
  });

  it('answers /readyz 200 when every check passes', async () => {
    const a = await boot();
    a.get(ReadinessRegistry).register('db', () => true);
    a.get(ReadinessRegistry).register('bus', () => Promise.resolve(true));
    const res = await a.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ checks: { db: 'ok', bus: 'ok' } });
  });

  it('answers /readyz 503 naming a failing, a throwing and a slow check', async () => {
    const a = await boot();
    const r = a.get(ReadinessRegistry);
    r.register('ok', () => true);
    r.register('down', () => false);
    r.register('throws', () => {
      throw new Error('boom');
    });
    r.register('slow', () => new Promise((res) => setTimeout(() => res(true), 1500)));
    const res = await a.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json<{ failing: string[] }>().failing.sort()).toEqual(['down', 'slow', 'throws']);
  });

  it('serves registered metrics as Prometheus text', async () => {
    const a = await boot();
    counter('heady_test_things_total', 'things').inc(3);
    const res = await a.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(/heady_test_things_total 3/);
  });

  it('continues an incoming traceparent and names the trace in the response', async () => {
    const a = await boot();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await a.inject({
      method: 'GET',
      url: '/whoami',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.json()).toEqual({ traceId });
    expect(res.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });
});

describe('metric helpers', () => {
  it('return the registered metric when asked twice', () => {
    expect(counter('heady_test_same_total', 'x')).toBe(counter('heady_test_same_total', 'x'));
  });
});
