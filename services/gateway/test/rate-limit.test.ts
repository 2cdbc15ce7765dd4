import { type Database, type Kysely, createApiKey, createDb, ensureOrganization } from '@heady/db';
import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  freePort,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

async function get(url: string, key: string) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res;
}

async function freeKey(db: Kysely<Database>, org: string, plan: 'FREE' | 'PRO' = 'FREE') {
  const o = await ensureOrganization(db, org, plan);
  return (await createApiKey(db, { orgId: o.id, name: 'rl', role: 'member' })).key;
}

describe('rate limits shared by three gateway replicas through Redis', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_rl');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      gatewayReplicas: 3,
      // On this shared 2-core machine a 200-request burst can delay replies past the 100 ms
      // default, and a timed-out call falls back to the per-process limiter (which over-admits).
      // 170 refusals in a burst would ban the organization (bans.test.ts tests that): off here
      env: { HEADY_REDIS_TIMEOUT_MS: '2000', HEADY_BAN_THRESHOLD: '0' },
    });
    db = createDb({ url: pg.url, poolMax: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('admits exactly 30 of 200 concurrent requests of one Free organization, and 429s the rest with headers', async () => {
    const key = await freeKey(db, 'free-org');
    const urls = stack.gateways.map((g) => `${g.url}/api/admin/api-keys`);
    expect(urls).toHaveLength(3);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => get(urls[i % 3] ?? '', key)),
    );
    // admitted = not 429: under this burst on a shared 2-core machine an admitted request can
    // still fail later (e.g. a database pool timeout), which is not the limiter's doing
    const ok = results.filter((r) => r.status !== 429);
    const limited = results.filter((r) => r.status === 429);
    expect(ok.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(25);
    expect(ok).toHaveLength(30);
    expect(limited).toHaveLength(170);
    for (const r of ok) {
      expect(r.headers.get('ratelimit-policy')).toBe('"free";q=30;w=60');
      expect(r.headers.get('ratelimit')).toMatch(/^"free";r=\d+;t=\d+$/);
    }
    const remaining = ok.map((r) => Number(/r=(\d+)/.exec(r.headers.get('ratelimit') ?? '')?.[1]));
    expect(new Set(remaining).size).toBe(30); // each admission saw its own count: 29..0
    for (const r of limited) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('ratelimit')).toMatch(/^"free";r=0;t=\d+$/);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
  });

  it('gives a Pro organization 120 and limits anonymous callers per IP', async () => {
    const key = await freeKey(db, 'pro-org', 'PRO');
    const base = stack.gateways[1]?.url ?? '';
    const r = await get(`${base}/api/admin/api-keys`, key);
    expect(r.headers.get('ratelimit-policy')).toBe('"pro";q=120;w=60');
    const anon = await fetch(`${base}/api/health`);
    expect(anon.headers.get('ratelimit-policy')).toBe('"anonymous";q=30;w=60');
    const enterprise = await get(`${base}/api/admin/api-keys`, stack.apiKey);
    expect(enterprise.headers.get('ratelimit-policy')).toBeNull(); // unlimited: not counted
  });
});

describe('rate limits when Redis goes away', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  let redisPort: number;
  let redis: ChildProcess | undefined;

  const startRedis = async (): Promise<void> => {
    redis = spawn(
      'redis-server',
      ['--port', String(redisPort), '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const probe = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    for (let i = 0; i < 50; i++) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    probe.disconnect();
  };

  beforeAll(async () => {
    redisPort = await freePort();
    await startRedis();
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_rl_down');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      env: { REDIS_URL: `redis://127.0.0.1:${redisPort}`, HEADY_PLAN_FREE_LIMIT: '1000' },
    });
    db = createDb({ url: pg.url, poolMax: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
    redis?.kill('SIGKILL');
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('answers within 100 ms through the per-process fallback, counts it, and returns to Redis when it is back', async () => {
    const key = await freeKey(db, 'down-org');
    const url = `${stack.gatewayUrl}/api/admin/api-keys`;
    const client = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 0 });
    const count = async (): Promise<number> => {
      const keys = await client.keys('heady-test:*rl:org:*');
      return keys.length ? client.zcard(keys.find((k) => !k.endsWith(':seq')) ?? '') : 0;
    };
    expect((await get(url, key)).status).toBe(200);
    expect(await count()).toBe(1);
    client.disconnect();

    redis?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const r = await get(url, key);
      expect(performance.now() - t0).toBeLessThan(100);
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit-policy')).toBe('"free";q=1000;w=60');
    }
    const metrics = await (await fetch(`${stack.services.gateway.opsUrl}/metrics`)).text();
    const fallbacks = Number(
      /heady_gateway_ratelimit_fallback_total(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1],
    );
    expect(fallbacks).toBeGreaterThanOrEqual(20);
    // bans cannot be checked without Redis: those requests were admitted (fail open) and counted
    const skipped = Number(
      /heady_gateway_ban_checks_skipped_total(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1],
    );
    expect(skipped).toBeGreaterThanOrEqual(20);
    expect(stack.services.gateway.lines.join('\n')).toMatch(/redis unreachable/);

    await startRedis();
    const back = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 0 });
    let inRedis = 0;
    for (let i = 0; i < 50 && inRedis === 0; i++) {
      await get(url, key);
      const keys = await back.keys('heady-test:*rl:org:*');
      inRedis = keys.length;
      if (!inRedis) await new Promise((r) => setTimeout(r, 100));
    }
    back.disconnect();
    expect(inRedis).toBeGreaterThan(0);
  });
});
