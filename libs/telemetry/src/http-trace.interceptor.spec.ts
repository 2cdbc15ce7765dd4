import 'reflect-metadata';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Module,
  NotFoundException,
  Param,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { type FastifyReply } from 'fastify';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpTraceInterceptor } from './http-trace.interceptor.js';
import { createLogger } from './logger.js';
import { metricsRegistry } from './metrics.js';
import { initTracing } from './tracing.js';

const lines: Record<string, unknown>[] = [];
const log = createLogger(
  { service: 'http-test', instanceId: 'http-1', logLevel: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  }),
);
const spans: ReadableSpan[] = [];

class DomainNotFound extends Error {}

@Catch(DomainNotFound)
class DomainFilter implements ExceptionFilter {
  catch(_err: DomainNotFound, host: ArgumentsHost): void {
    void host.switchToHttp().getResponse<FastifyReply>().status(404).send({ title: 'not found' });
  }
}

@Controller('things')
class ThingsController {
  @Get(':id')
  async get(@Param('id') id: string): Promise<{ id: string }> {
    await new Promise((r) => setTimeout(r, 1));
    spans.push(trace.getActiveSpan() as unknown as ReadableSpan);
    log.info({ id }, 'fetching thing');
    if (id === 'missing') throw new DomainNotFound(id);
    if (id === 'gone') throw new NotFoundException();
    if (id === 'broken') throw new Error('broken');
    return { id };
  }
}

@Module({ controllers: [ThingsController] })
class AppModule {}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

describe(HttpTraceInterceptor.name, () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    initTracing({
      service: 'http-test',
      instanceId: 'http-1',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    });
    app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalInterceptors(new HttpTraceInterceptor());
    app.useGlobalFilters(new DomainFilter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => app.close());

  /** The request's span once the response closed (the interceptor ends it on close). */
  const lastSpan = async (): Promise<ReadableSpan> => {
    await new Promise((r) => setImmediate(r));
    const span = spans.at(-1);
    if (!span) throw new Error('no span seen');
    return span;
  };

  it('continues an incoming traceparent: same trace id in the response header and in the controller log line', async () => {
    lines.length = 0;
    const res = await app.inject({
      method: 'GET',
      url: '/things/42?x=1',
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` },
    });
    expect(res.statusCode).toBe(200);
    const header = String(res.headers.traceparent);
    expect(header).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    const spanId = header.split('-')[2];
    expect(spanId).not.toBe(PARENT_SPAN);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'fetching thing', trace_id: TRACE_ID, span_id: spanId }),
    );
    const span = await lastSpan();
    expect(span.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    expect(span.name).toBe('GET /things/:id');
    expect(span.ended).toBe(true);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/things/:id',
      'url.path': '/things/42',
      'http.response.status_code': 200,
    });
  });

  it('starts a new trace when the request carries none', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/1' });
    const header = String(res.headers.traceparent);
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(header).not.toContain(TRACE_ID);
    expect((await lastSpan()).parentSpanContext).toBeUndefined();
  });

  it('records the status an exception filter answered with, not a guess', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/missing' });
    expect(res.statusCode).toBe(404);
    const span = await lastSpan();
    expect(span.attributes['http.response.status_code']).toBe(404);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    const gone = await app.inject({ method: 'GET', url: '/things/gone' });
    expect(gone.statusCode).toBe(404);
  });

  it('marks a 500 as an error with the exception recorded', async () => {
    const res = await app.inject({ method: 'GET', url: '/things/broken' });
    expect(res.statusCode).toBe(500);
    expect(res.headers.traceparent).toBeDefined();
    const span = await lastSpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.events).toContainEqual(
      expect.objectContaining({
        name: 'exception',
        attributes: expect.objectContaining({ 'exception.message': 'broken' }) as unknown,
      }),
    );
  });

  it('counts requests and observes durations by method, route template and status', async () => {
    await new Promise((r) => setImmediate(r));
    const text = await metricsRegistry.metrics();
    expect(text).toMatch(
      /^heady_http_requests_total\{method="GET",route="\/things\/:id",status="200"\} 2$/m,
    );
    expect(text).toMatch(
      /^heady_http_requests_total\{method="GET",route="\/things\/:id",status="404"\} 2$/m,
    );
    expect(text).toMatch(
      /^heady_http_requests_total\{method="GET",route="\/things\/:id",status="500"\} 1$/m,
    );
    expect(text).toMatch(
      /^heady_http_request_duration_seconds_count\{method="GET",route="\/things\/:id",status="200"\} 2$/m,
    );
  });
});
