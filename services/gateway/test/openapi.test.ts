import SwaggerParser from '@apidevtools/swagger-parser';
import { BusPublisher, type BusConnection, closeBus, connectBus } from '@heady/bus';
import { loadGatewayConfig } from '@heady/config';
import { createApiKey, createDb, ensureOrganization } from '@heady/db';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { type TestDatabase, createTestDatabase, startNatsServer } from '@heady/testing';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { type OpenAPI } from 'openapi-types';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
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
  let apiKey: string;
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
      LOG_LEVEL: 'error',
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
    const db = createDb({ url: pg.url, poolMax: 1 });
    try {
      const org = await ensureOrganization(db, 'openapi', 'PRO');
      apiKey = (await createApiKey(db, { orgId: org.id, name: 'doc', role: 'admin' })).key;
    } finally {
      await db.destroy();
    }
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

  it('gives every operation a schema for each response: JSON for success, problem+json for errors', () => {
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api')) continue;
      for (const [method, op] of Object.entries(item as Record<string, OperationObject>)) {
        for (const [status, res] of Object.entries(op.responses)) {
          const where = `${method.toUpperCase()} ${path} ${status}`;
          const content = (res as { content?: Record<string, { schema?: object }> }).content;
          if (status === '204') {
            expect(content, where).toBeUndefined();
            continue;
          }
          const types = Object.keys(content ?? {});
          expect(types.length, `${where} has no content`).toBe(1);
          const schema = content?.[types[0] ?? '']?.schema;
          // a schema that says something: a $ref, a type, or properties
          expect(schema, `${where} has no schema`).toBeDefined();
          expect(Object.keys(schema ?? {}).length, `${where} has an empty schema`).toBeGreaterThan(
            0,
          );
          if (status.startsWith('4') || status.startsWith('5'))
            expect(types, where).toEqual(
              status === '503' && path === '/api/health'
                ? ['application/json']
                : ['application/problem+json'],
            );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('documents GET /api/runs with its filters and the run with its error, compensation and trace id', () => {
    const list = doc.paths['/api/runs']?.get;
    const names = (list?.parameters ?? []).map((p) => ('name' in p ? p.name : ''));
    expect(names.sort()).toEqual(['action', 'cursor', 'limit', 'since', 'status', 'until']);
    const one = doc.paths['/api/runs/{id}']?.get?.responses['200'] as {
      content: Record<string, { schema: { properties: Record<string, unknown> } }>;
      headers: Record<string, unknown>;
    };
    const run = one.content['application/json']?.schema;
    expect(Object.keys(run?.properties ?? {})).toEqual(
      expect.arrayContaining(['error', 'traceId', 'stages', 'status']),
    );
    expect(JSON.stringify(run)).toContain('compensation');
    expect(one.headers).toHaveProperty('Heady-Trace-Id');
  });

  it('refuses a path id that is not a uuid with 422 problem+json, as documented', async () => {
    for (const [method, url] of [
      ['GET', '/api/runs/abc'],
      ['POST', '/api/runs/abc/cancel'],
      ['GET', '/api/runs/abc/events'],
      ['DELETE', '/api/admin/api-keys/abc'],
    ] as const) {
      // the access guard needs a key: unauthenticated, it would answer 401 first
      const r = await app.inject({ method, url, headers: { authorization: `Bearer ${apiKey}` } });
      expect(r.statusCode, `${method} ${url}`).toBe(422);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(r.body)).toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ path: 'path.id' }],
      });
    }
  });

  it('generates a TypeScript client whose run responses are fully typed (openapi-typescript + tsc)', async () => {
    const json = await app.inject({ method: 'GET', url: '/openapi.json' });
    const types = astToString(await openapiTS(JSON.parse(json.body) as never));
    const dir = await mkdtemp(join(tmpdir(), 'heady-client-'));
    try {
      await writeFile(join(dir, 'api.d.ts'), types);
      await writeFile(join(dir, 'client.ts'), CLIENT_PROGRAM);
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const run = await promisify(execFile)(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--target',
          'es2022',
          '--module',
          'nodenext',
          '--lib',
          'es2022,dom',
          'client.ts',
        ],
        { cwd: dir },
      ).then(
        () => '',
        (e: { stdout: string }) => e.stdout,
      );
      expect(run).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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

/**
 * A small client of the generated types: starts a run, lists runs, reads one. It compiles
 * only when none of those responses is `unknown` anywhere inside (the run's `result` is
 * the action's free-form JSON object: its values are the one place left open).
 */
const CLIENT_PROGRAM = `
import type { paths } from './api.js';

type Json<P extends keyof paths, M extends keyof paths[P], S extends number> =
  paths[P][M] extends { responses: { [K in S]: { content: { 'application/json': infer T } } } }
    ? T
    : never;
type HasUnknown<T> = unknown extends T
  ? true
  : T extends readonly (infer E)[]
    ? HasUnknown<E>
    : T extends object
      ? true extends { [K in keyof T]-?: HasUnknown<T[K]> }[keyof T]
        ? true
        : false
      : false;
type Typed<T> = [T] extends [never] ? 'missing' : HasUnknown<T> extends true ? 'has unknown' : 'ok';

type Started = Json<'/api/runs', 'post', 202>;
type Page = Json<'/api/runs', 'get', 200>;
type Run = Json<'/api/runs/{id}', 'get', 200>;
const started: Typed<Started> = 'ok';
const page: Typed<Page> = 'ok';
const run: Typed<Omit<Run, 'result'>> = 'ok';
const result: Typed<keyof Run['result']> = 'ok';
// the check bites: an \`unknown\` inside, or no JSON response at all, is told apart
const bites: [Typed<{ a: { b: unknown[] } }>, Typed<never>] = ['has unknown', 'missing'];
void [started, page, run, result, bites];

export async function demo(base: string, key: string): Promise<string> {
  const headers = { authorization: 'Bearer ' + key, 'content-type': 'application/json' };
  const res = await fetch(base + '/api/runs', {
    method: 'POST',
    headers,
    body: JSON.stringify({ action: 'analyze', input: { text: 'hello' } }),
  });
  const accepted = (await res.json()) as Started;
  const status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'COMPENSATED' | 'CANCELLED' =
    accepted.status;
  const list = (await (await fetch(base + '/api/runs?limit=10', { headers })).json()) as Page;
  const next: string | null = list.nextCursor;
  const ids: string[] = list.items.map((r) => r.runId);
  const one = (await (await fetch(base + accepted.links.self, { headers })).json()) as Run;
  const error: string | null = one.error;
  const traceId: string | null = one.traceId;
  const undone: ('NONE' | 'PENDING' | 'DONE')[] = one.stages.map((s) => s.compensation.state);
  return [status, next, ids.join(','), error, traceId, undone.join(',')].join(' ');
}
`;
