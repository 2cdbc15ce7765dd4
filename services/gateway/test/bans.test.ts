import { fromBinary } from '@bufbuild/protobuf';
import { AuditEventSchema } from '@heady/contracts';
import { type Database, type Kysely, createApiKey, createDb, ensureOrganization } from '@heady/db';
import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Problem {
  code: string;
  status: number;
  detail: string;
  until?: string;
  subject?: string;
  retryAfter?: number;
}

describe('auto-ban of callers that keep sending after their 429s', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  const prefix = `heady-test:${randomBytes(4).toString('hex')}:`;

  /** A request from `ip` (the gateways trust 127.0.0.1 as a proxy, so X-Forwarded-For names the client). */
  const send = async (i: number, ip: string, key?: string) => {
    const url = `${stack.gateways[i % stack.gateways.length]?.url ?? ''}/api/admin/api-keys`;
    const res = await fetch(url, {
      headers: {
        'x-forwarded-for': ip,
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
    });
    const text = await res.text();
    return { res, body: text ? (JSON.parse(text) as Problem) : undefined };
  };

  const heady = (...args: string[]): Promise<unknown> =>
    stack.heady(args, { HEADY_REDIS_PREFIX: prefix });

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_bans');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      gatewayReplicas: 2,
      env: {
        HEADY_REDIS_PREFIX: prefix,
        HEADY_REDIS_TIMEOUT_MS: '2000',
        HEADY_TRUSTED_PROXIES: '127.0.0.1/32',
        HEADY_ANON_LIMIT: '3',
        HEADY_PLAN_FREE_LIMIT: '3',
        HEADY_BAN_THRESHOLD: '5',
        HEADY_BAN_WINDOW_MS: '60000',
        HEADY_BAN_TTL_MS: '120000',
      },
    });
    db = createDb({ url: pg.url, poolMax: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('bans an IP on its 5th 429 across replicas: 403 problem+json naming the expiry, with Retry-After; other IPs still pass', async () => {
    const ip = '203.0.113.7';
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(i, ip)).res.status);
    // 3 admitted (401: no key on an INTERNAL route), 4 limited, the 5th 429 becomes the ban
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 403]);

    const t0 = Date.now();
    const { res, body } = await send(9, ip);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(body?.code).toBe('BANNED');
    expect(body?.subject).toBe(`ip:${ip}`);
    const until = Date.parse(body?.until ?? '');
    expect(until - t0).toBeGreaterThan(110_000);
    expect(until - t0).toBeLessThanOrEqual(121_000);
    expect(body?.detail).toContain(body?.until);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(110);
    expect(retryAfter).toBeLessThanOrEqual(120);

    // another client is not affected
    expect((await send(0, '203.0.113.8')).res.status).toBe(401);
  });

  it('publishes the evidence on audit.ban and counts heady_gateway_bans_total', async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      // the audit is published after the response (it never delays a refusal)
      let m = null;
      for (let i = 0; i < 50 && !m; i++) {
        m = await jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.ban' });
        if (!m) await new Promise((r) => setTimeout(r, 100));
      }
      expect(m).toBeTruthy();
      const e = fromBinary(AuditEventSchema, m?.data ?? new Uint8Array());
      expect(e.action).toBe('BAN');
      expect(e.target).toBe('ip:203.0.113.7');
      expect(e.details).toMatchObject({
        kind: 'ip',
        ip: '203.0.113.7',
        route: 'GET /api/admin/api-keys',
        count: 5,
        windowMs: 60_000,
      });
      const d = e.details as Record<string, string>;
      expect(Date.parse(d['firstAt'] ?? '')).toBeLessThanOrEqual(Date.parse(d['lastAt'] ?? ''));
      expect(Date.parse(d['until'] ?? '') - Date.parse(d['bannedAt'] ?? '')).toBe(120_000);
    } finally {
      await nc.close();
    }
    let total = 0;
    for (const g of stack.gateways) {
      const text = await (await fetch(`${g.opsUrl}/metrics`)).text();
      total += Number(/heady_gateway_bans_total\{[^}]*kind="ip"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    }
    expect(total).toBe(1);
  });

  it('bans an organization (every key of it) and never bans the mesh', async () => {
    const org = await ensureOrganization(db, 'noisy', 'FREE');
    const k1 = (await createApiKey(db, { orgId: org.id, name: 'a', role: 'member' })).key;
    const k2 = (await createApiKey(db, { orgId: org.id, name: 'b', role: 'member' })).key;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(i, '198.51.100.1', k1)).res.status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 403]);
    const other = await send(0, '198.51.100.2', k2);
    expect(other.res.status).toBe(403);
    expect(other.body?.subject).toBe(`org:${org.id}`);

    // 10.0.0.0/8 is the mesh: never limited, never banned
    const mesh: number[] = [];
    for (let i = 0; i < 12; i++) mesh.push((await send(i, '10.2.3.4')).res.status);
    expect(new Set(mesh)).toEqual(new Set([401]));
  });

  it('lists bans with heady bans ls and lifts them with heady bans lift <ip|key prefix>', async () => {
    const org = await ensureOrganization(db, 'noisy');
    const k1 = (await createApiKey(db, { orgId: org.id, name: 'c', role: 'member' })).key;
    const bans = (await heady('bans', 'ls')) as {
      subject: string;
      orgName?: string;
      keyPrefix?: string;
      count: number;
      expiresInMs: number;
    }[];
    expect(bans.map((b) => b.subject).sort()).toEqual(['ip:203.0.113.7', `org:${org.id}`].sort());
    const orgBan = bans.find((b) => b.subject.startsWith('org:'));
    expect(orgBan?.orgName).toBe('noisy');
    expect(orgBan?.keyPrefix).toMatch(/^hk_[A-Za-z0-9_-]{8}$/);
    expect(orgBan?.count).toBe(5);
    expect(orgBan?.expiresInMs).toBeGreaterThan(60_000);

    expect(await heady('bans', 'lift', '203.0.113.7')).toMatchObject({ lifted: 1 });
    // not 403 any more; its window is still full, so it is limited as before
    expect((await send(0, '203.0.113.7')).body?.code).toBe('RATE_LIMITED');

    expect(await heady('bans', 'lift', orgBan?.keyPrefix ?? '')).toMatchObject({ lifted: 1 });
    // lifted: no longer 403, but its window is still full, so it is limited as before
    const after = await send(1, '198.51.100.1', k1);
    expect(after.res.status).toBe(429);
    expect(after.body?.code).toBe('RATE_LIMITED');
    expect(await heady('bans', 'ls')).toEqual([]);
    const audit = await db
      .selectFrom('audit_logs')
      .select(['action', 'target'])
      .where('action', '=', 'BAN_LIFTED')
      .execute();
    expect(audit).toHaveLength(2);
  });
});
