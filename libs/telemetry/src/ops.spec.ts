import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpTraceInterceptor } from './http-trace.interceptor.js';
import { counter, metricsRegistry } from './metrics.js';
import { OpsModule, type OpsModuleOptions } from './ops.module.js';
import { ReadinessRegistry } from './readiness.js';

describe(OpsModule.name, () => {
  let app: NestFastifyApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** Boots a real Nest app on Fastify, listening on a free port. */
  async function boot(options?: OpsModuleOptions): Promise<NestFastifyApplication> {
    @Module({ imports: [OpsModule.forRoot(options)] })
    class AppModule {}
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalInterceptors(new HttpTraceInterceptor());
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  }

  it('answers /healthz 200 while the process lives', async () => {
    const res = await (await boot()).inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz 200 with every check result when all pass', async () => {
    const a = await boot({ readiness: { config: () => true } });
    a.get(ReadinessRegistry).register('db', () => true);
    a.get(ReadinessRegistry).register('bus', () => Promise.resolve(true));
    const res = await a.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { config: 'ok', db: 'ok', bus: 'ok' } });
  });

  it('answers /readyz 503 naming a failing, a throwing, a rejecting and a slow check', async () => {
    const a = await boot({ readiness: { down: () => false } });
    const r = a.get(ReadinessRegistry);
    r.register('ok', () => true);
    r.register('throws', () => {
      throw new Error('boom');
    });
    r.register('rejects', () => Promise.reject(new Error('no')));
    r.register('slow', () => new Promise((res) => setTimeout(() => res(true), 1_500)));
    const started = Date.now();
    const res = await a.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(1_400);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: 'not ready',
      checks: { down: 'failing', ok: 'ok', throws: 'error', rejects: 'error', slow: 'timeout' },
      failing: ['down', 'throws', 'rejects', 'slow'],
    });
  });

  it('answers /readyz over a real socket too', async () => {
    const a = await boot({ readiness: { down: () => false } });
    const res = await fetch(`${await a.getUrl()}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ failing: ['down'] });
  });

  it('serves /metrics as Prometheus text containing a registered counter', async () => {
    const a = await boot();
    counter('heady_test_things_total', 'things', ['kind']).inc({ kind: 'a' }, 3);
    const res = await a.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(metricsRegistry.contentType);
    expect(res.body).toContain('# TYPE heady_test_things_total counter');
    expect(res.body).toMatch(/^heady_test_things_total\{kind="a"\} 3$/m);
  });

  it('leaves probes and scrapes out of the HTTP metrics', async () => {
    const a = await boot();
    await a.inject({ method: 'GET', url: '/healthz' });
    const res = await a.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).not.toMatch(/heady_http_requests_total\{[^}]*route="\/healthz"/);
  });
});
