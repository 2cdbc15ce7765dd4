import { type Database, type Kysely, createApiKey, createDb, ensureOrganization } from '@heady/db';
import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Res {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('Idempotency-Key on every creating POST', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  let nc: NatsConnection;
  const prefix = `heady-test:${randomBytes(4).toString('hex')}:`;

  const post = async (
    path: string,
    body: unknown,
    opts: { idem?: string; key?: string } = {},
  ): Promise<Res> => {
    const res = await fetch(`${stack.gatewayUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${opts.key ?? stack.apiKey}`,
        ...(opts.idem === undefined ? {} : { 'idempotency-key': opts.idem }),
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_idem');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      // the conductor and vector memory of this test are slow: they take requests and
      // never answer, so a request stays in flight for the RPC timeout
      env: { HEADY_REDIS_PREFIX: prefix, HEADY_RPC_TIMEOUT_MS: '1500' },
    });
    db = createDb({ url: pg.url, poolMax: 2 });
    nc = await connect({ servers: nats.url });
    nc.subscribe('conductor.runs.start');
    nc.subscribe('memory.vectors.insert');
    await nc.flush();
  });

  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('replays the same status and body for the same key and body, in any key order, without creating twice', async () => {
    const first = await post(
      '/api/admin/api-keys',
      { name: 'ci', role: 'member' },
      { idem: 'create-ci' },
    );
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await post(
      '/api/admin/api-keys',
      { role: 'member', name: 'ci' },
      { idem: 'create-ci' },
    );
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const rows = await db.selectFrom('api_keys').select('id').where('name', '=', 'ci').execute();
    expect(rows).toHaveLength(1);

    // what Redis keeps is sealed: the created key is not readable there
    const redis = new Redis({ maxRetriesPerRequest: 0 });
    try {
      const keys = await redis.keys(`${prefix}idem:*`);
      expect(keys.length).toBeGreaterThanOrEqual(1);
      const values = await Promise.all(keys.map((k) => redis.get(k)));
      for (const v of values) expect(v).not.toContain(String(first.body['key']));
      for (const k of keys) expect(k).not.toContain('create-ci');
    } finally {
      redis.disconnect();
    }
  });

  it('answers 422 problem+json for the same key with another body, and scopes keys per API key and route', async () => {
    await post('/api/admin/api-keys', { name: 'one', role: 'member' }, { idem: 'k-scope' });
    const other = await post(
      '/api/admin/api-keys',
      { name: 'two', role: 'member' },
      { idem: 'k-scope' },
    );
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', idempotencyKey: 'k-scope' });

    const org = await ensureOrganization(db, 'another', 'PRO');
    const key2 = (await createApiKey(db, { orgId: org.id, name: 'x', role: 'admin' })).key;
    const theirs = await post(
      '/api/admin/api-keys',
      { name: 'two', role: 'member' },
      { idem: 'k-scope', key: key2 },
    );
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
  });

  it('answers 422 for a malformed Idempotency-Key, never 5xx', async () => {
    const res = await post('/api/admin/api-keys', { name: 'x' }, { idem: 'x'.repeat(300) });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  for (const [path, body] of [
    ['/api/runs', { action: 'chat', input: { q: 'slow' } }],
    ['/api/brain/chat', { message: 'slow' }],
    ['/api/memory/vectors', { items: [{ content: 'slow' }] }],
  ] as const) {
    it(`answers 409 problem+json on ${path} while the first request with the key is in flight, and frees the key when it fails`, async () => {
      const idem = `slow-${path}`;
      const t0 = Date.now();
      const slow = post(path, body, { idem });
      await new Promise((r) => setTimeout(r, 300));
      const second = await post(path, body, { idem });
      expect(Date.now() - t0).toBeLessThan(1400); // answered while the first still waits
      expect(second.status).toBe(409);
      expect(second.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(second.body).toMatchObject({ code: 'IDEMPOTENCY_IN_FLIGHT', idempotencyKey: idem });
      const differs = await post(path, { ...body, extra: 1 }, { idem });
      expect(differs.status).toBe(422);

      const first = await slow;
      expect(first.status).toBe(503); // nobody answered within the RPC timeout
      // a failed request releases its key: the retry is processed (and is slow again), not 409
      const retry = await post(path, body, { idem });
      expect(retry.status).toBe(503);
    });
  }
});
