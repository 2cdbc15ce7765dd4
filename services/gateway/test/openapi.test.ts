import SwaggerParser from '@apidevtools/swagger-parser';
import { BusPublisher, type BusConnection, closeBus, connectBus } from '@heady/bus';
import { loadGatewayConfig } from '@heady/config';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { type TestDatabase, createTestDatabase, startNatsServer } from '@heady/testing';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { type OpenAPI } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_CONTROLLERS, GatewayModule } from '../src/app.module.js';
import {
  ACCESS_CLASS_EXTENSION,
  REQUIRED_PLANS_EXTENSION,
  buildOpenApiDocument,
  serveOpenApi,
} from '../src/openapi/openapi.js';

/** `/api/runs/:id` → `/api/runs/{id}` */
const toOpenApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

// The gateway's Nest app built in this process (real NATS, PostgreSQL, Redis behind it),
// its routes collected from Fastify's router as Nest registers them.
describe('the OpenAPI document', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let bus: BusConnection;
  let app: NestFastifyApplication;
  let doc: OpenAPIObject;
  const routes: { method: string; url: string }[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_openapi');
    const config = loadGatewayConfig({
      ...process.env,
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_SIGNING: 'off',
      DATABASE_POOL_MAX: '2',
      LOG_LEVEL: 'warn',
    });
    const logger = createLogger(config);
    bus = await connectBus(config);
    const adapter = new FastifyAdapter();
    adapter.getInstance().addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) routes.push({ method, url: r.url });
    });
    app = await NestFactory.create<NestFastifyApplication>(
      GatewayModule.register(RuntimeModule.forRoot(config, logger, new BusPublisher(bus, logger))),
      adapter,
      { logger: false },
    );
    doc = buildOpenApiDocument(app, GATEWAY_CONTROLLERS);
    serveOpenApi(app, doc);
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await closeBus(bus).catch(() => undefined);
    await pg?.drop();
    await nats?.stop();
  });

  it('lists every route the gateway registers, with its method', () => {
    const served = routes.filter(
      (r) => r.method !== 'HEAD' && !r.url.startsWith('/docs') && r.url !== '/openapi.json',
    );
    expect(served.filter((r) => r.url.startsWith('/api')).length).toBeGreaterThanOrEqual(10);
    for (const r of served) {
      const item = doc.paths[toOpenApiPath(r.url)] as Record<string, unknown> | undefined;
      expect(item?.[r.method.toLowerCase()], `${r.method} ${r.url}`).toBeDefined();
    }
    // and nothing the router does not serve
    const documented = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(documented.sort()).toEqual(
      [...new Set(served.map((r) => `${r.method} ${toOpenApiPath(r.url)}`))].sort(),
    );
  });

  it('is a valid OpenAPI 3 document', async () => {
    // the validator dereferences in place: give it a copy
    const api = await SwaggerParser.validate(structuredClone(doc) as unknown as OpenAPI.Document);
    expect((api as { openapi?: string }).openapi).toMatch(/^3\./);
  });

  it('gives each /api operation its access class, bearer security and problem+json errors', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api')) continue;
      for (const [method, op] of Object.entries(item as Record<string, OperationObject>)) {
        const where = `${method.toUpperCase()} ${path}`;
        const ext = op as unknown as Record<string, unknown>;
        expect(['PUBLIC', 'INTERNAL', 'PROPRIETARY', 'RESTRICTED'], where).toContain(
          ext[ACCESS_CLASS_EXTENSION],
        );
        expect(op.description, where).toContain(
          `Access class ${String(ext[ACCESS_CLASS_EXTENSION])}`,
        );
        expect(JSON.stringify(op.security), where).toContain('apiKey');
        for (const status of ['401', '403', '429', '500'])
          expect(
            (op.responses[status] as { content?: Record<string, unknown> } | undefined)?.content,
            `${where} ${status}`,
          ).toHaveProperty(['application/problem+json']);
        expect(
          Object.keys(op.responses).some((s) => s.startsWith('2')),
          where,
        ).toBe(true);
        if (method === 'post' && !path.includes('{')) expect(op.requestBody, where).toBeDefined();
        for (const name of path.match(/\{(\w+)\}/g) ?? [])
          expect(
            op.parameters?.some((p) => 'in' in p && p.in === 'path' && `{${p.name}}` === name),
            `${where} ${name}`,
          ).toBe(true);
      }
    }
    expect(doc.components?.securitySchemes?.apiKey).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
  });

  it('reads classes and plans from the route metadata, as the guard does', () => {
    const op = (path: string, method: string) =>
      (doc.paths[path] as Record<string, Record<string, unknown>>)[method];
    expect(op('/api/health', 'get')?.[ACCESS_CLASS_EXTENSION]).toBe('PUBLIC');
    expect(op('/api/runs', 'post')?.[ACCESS_CLASS_EXTENSION]).toBe('INTERNAL');
    // a method-level @Access overrides its controller's
    expect(op('/api/memory/sessions/{id}', 'delete')?.[ACCESS_CLASS_EXTENSION]).toBe('PROPRIETARY');
    expect(op('/api/brain/chat', 'post')?.[REQUIRED_PLANS_EXTENSION]).toEqual([
      'PRO',
      'ENTERPRISE',
    ]);
    expect(op('/api/runs', 'post')?.[REQUIRED_PLANS_EXTENSION]).toBeUndefined();
  });

  it('derives request bodies and query parameters from the zod schemas', () => {
    const run = doc.paths['/api/runs']?.post?.requestBody as {
      content: Record<string, { schema: { required?: string[]; additionalProperties?: unknown } }>;
    };
    expect(run.content['application/json']?.schema.required).toEqual(['action', 'input']);
    expect(run.content['application/json']?.schema.additionalProperties).toBe(false);
    const zone = doc.paths['/api/memory/zone']?.get?.parameters ?? [];
    expect(zone).toContainEqual(
      expect.objectContaining({ name: 'q', in: 'query', required: true }),
    );
  });

  it('serves the JSON at /openapi.json and Swagger UI at /docs', async () => {
    const json = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(json.statusCode).toBe(200);
    expect(JSON.parse(json.body)).toEqual(JSON.parse(JSON.stringify(doc)));
    const ui = await app.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toContain('swagger-ui');
  });
});
