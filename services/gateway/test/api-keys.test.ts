import { type Database, type Kysely, createDb } from '@heady/db';
import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The gateway as its own process against a private nats-server and a fresh database.
describe('gateway identity: API keys, roles and access classes', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  let base: string;
  const keys: Record<string, string> = {};

  async function call(
    method: string,
    path: string,
    key?: string,
    body?: unknown,
  ): Promise<{
    status: number;
    type: string | null;
    headers: Headers;
    body: Record<string, unknown>;
  }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      headers: res.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }

  const cli = async (args: string[], env: Record<string, string> = {}) =>
    (await stack.heady(args, env)) as Record<string, unknown>;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_keys');
    stack = await startStack({ natsUrl: nats.url, databaseUrl: pg.url, services: ['gateway'] });
    base = stack.gatewayUrl;
    db = createDb({ url: pg.url, poolMax: 2 });
    keys.admin = stack.apiKey;
    for (const role of ['viewer', 'member', 'developer']) {
      const r = await call('POST', '/api/admin/api-keys', stack.apiKey, { name: role, role });
      expect(r.status).toBe(201);
      keys[role] = r.body.key as string;
    }
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('shows a new key once, prefixed hk_, and stores only its hash', async () => {
    const r = await call('POST', '/api/admin/api-keys', keys.admin, {
      name: 'once',
      role: 'viewer',
    });
    expect(r.status).toBe(201);
    const key = r.body.key as string;
    expect(key).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
    expect(r.body).toMatchObject({
      name: 'once',
      role: 'viewer',
      prefix: key.slice(0, 11),
      revokedAt: null,
    });
    const listed = await call('GET', '/api/admin/api-keys', keys.admin);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    const row = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', r.body.id as string)
      .executeTakeFirstOrThrow();
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(key);
  });

  it('answers each role on each route class by its clearance (role × class matrix over real routes)', async () => {
    // PUBLIC, INTERNAL, PROPRIETARY routes of the gateway; no vector-memory runs here, so an
    // allowed PROPRIETARY request gets past the guard and fails later (503), never 401/403.
    const routes = [
      { cls: 'PUBLIC', method: 'GET', path: '/api/health' },
      { cls: 'INTERNAL', method: 'GET', path: '/api/admin/api-keys' },
      { cls: 'PROPRIETARY', method: 'DELETE', path: '/api/memory/sessions/s1' },
    ] as const;
    const level = { anonymous: -1, viewer: 0, member: 1, developer: 2, admin: 3 } as const;
    const clsLevel = { PUBLIC: 0, INTERNAL: 1, PROPRIETARY: 2 } as const;
    for (const [who, lv] of Object.entries(level)) {
      for (const route of routes) {
        const r = await call(route.method, route.path, who === 'anonymous' ? undefined : keys[who]);
        const allowed = route.cls === 'PUBLIC' || lv >= clsLevel[route.cls];
        const label = `${who} ${route.method} ${route.path}`;
        if (allowed) expect([401, 403], label).not.toContain(r.status);
        else {
          expect(r.status, label).toBe(who === 'anonymous' ? 401 : 403);
          expect(r.type, label).toMatch(/^application\/problem\+json/);
          expect(r.body.code, label).toBe(who === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        }
      }
    }
  });

  it('refuses a malformed or unknown key with 401 problem+json and a WWW-Authenticate challenge', async () => {
    for (const key of ['hk_unknown', 'not-a-key']) {
      const r = await call('GET', '/api/health', key);
      expect(r.status).toBe(401);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('lets a key grant at most its own clearance and rejects an invalid body with 422', async () => {
    const up = await call('POST', '/api/admin/api-keys', keys.member, { name: 'x', role: 'admin' });
    expect(up.status).toBe(403);
    expect(up.body).toMatchObject({
      code: 'FORBIDDEN',
      required: 'RESTRICTED',
      clearance: 'INTERNAL',
    });
    const bad = await call('POST', '/api/admin/api-keys', keys.admin, { name: '', role: 'root' });
    expect(bad.status).toBe(422);
    expect(bad.type).toMatch(/^application\/problem\+json/);
  });

  it('lets a member neither list nor revoke keys with more clearance than its own (404 as for an unknown key)', async () => {
    const admins = await call('GET', '/api/admin/api-keys', keys.admin);
    const all = admins.body.items as { id: string; role: string }[];
    const above = all.filter((k) => k.role === 'admin' || k.role === 'developer');
    expect(above.length).toBeGreaterThan(0);
    const seen = await call('GET', '/api/admin/api-keys', keys.member);
    expect(seen.status).toBe(200);
    const roles = (seen.body.items as { role: string }[]).map((k) => k.role);
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.filter((r) => r !== 'viewer' && r !== 'member')).toEqual([]);
    for (const k of above) {
      const r = await call('DELETE', `/api/admin/api-keys/${k.id}`, keys.member);
      expect(r.status, k.role).toBe(404);
      expect(r.body.code).toBe('API_KEY_NOT_FOUND');
    }
    // the admin key still works: nothing above the member was revoked
    expect((await call('GET', '/api/admin/api-keys', keys.admin)).status).toBe(200);
    expect((await call('GET', '/api/admin/api-keys', keys.developer)).status).toBe(200);
    // a key at the member's own clearance it may revoke
    const peer = await call('POST', '/api/admin/api-keys', keys.admin, {
      name: 'peer',
      role: 'member',
    });
    const del = await call('DELETE', `/api/admin/api-keys/${peer.body.id as string}`, keys.member);
    expect(del.status).toBe(204);
  });

  it('revokes a key (refused from then on), records its last use, and keeps organizations apart', async () => {
    const created = await call('POST', '/api/admin/api-keys', keys.admin, {
      name: 'temp',
      role: 'member',
    });
    const id = created.body.id as string;
    const key = created.body.key as string;
    expect((await call('GET', '/api/admin/api-keys', key)).status).toBe(200);
    // last use is recorded off the request path: wait for it
    let lastUsed: Date | null = null;
    for (let i = 0; i < 40 && !lastUsed; i++) {
      lastUsed = (
        await db
          .selectFrom('api_keys')
          .select('last_used_at')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).last_used_at;
      if (!lastUsed) await new Promise((r) => setTimeout(r, 50));
    }
    expect(lastUsed).toBeInstanceOf(Date);
    // another organization's admin cannot see or revoke it
    const other = (await cli(['apikeys', 'create', '--org', 'other', '--role', 'admin'])) as {
      key: string;
    };
    const otherList = await call('GET', '/api/admin/api-keys', other.key);
    expect((otherList.body.items as { id: string }[]).map((k) => k.id)).not.toContain(id);
    expect((await call('DELETE', `/api/admin/api-keys/${id}`, other.key)).status).toBe(404);
    expect((await call('DELETE', `/api/admin/api-keys/${id}`, keys.admin)).status).toBe(204);
    const after = await call('GET', '/api/admin/api-keys', key);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('UNAUTHENTICATED');
  });

  it('manages keys from the CLI: create, ls, revoke', async () => {
    const c = (await cli([
      'apikeys',
      'create',
      '--org',
      'cli-org',
      '--plan',
      'PRO',
      '--role',
      'member',
      '--name',
      'ci',
    ])) as {
      key: string;
      id: string;
    };
    expect((await call('GET', '/api/admin/api-keys', c.key)).status).toBe(200);
    const ls = (await cli(['apikeys', 'ls', '--org', 'cli-org'])) as unknown as {
      id: string;
      lastUsedAt: string | null;
    }[];
    expect(ls.map((k) => k.id)).toEqual([c.id]);
    expect(JSON.stringify(ls)).not.toContain(c.key);
    await cli(['apikeys', 'revoke', c.id]);
    expect((await call('GET', '/api/admin/api-keys', c.key)).status).toBe(401);
    const org = await db
      .selectFrom('organizations')
      .select('plan')
      .where('name', '=', 'cli-org')
      .executeTakeFirstOrThrow();
    expect(org.plan).toBe('PRO');
  });

  it('writes development credentials once (admin + Free demo key, mode 600) and keeps them while they are live', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heady-creds-'));
    try {
      const first = await cli(['apikeys', 'dev'], { HEADY_DATA_DIR: dir });
      expect(first.created).toBe(true);
      const file = join(dir, 'credentials.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const creds = JSON.parse(readFileSync(file, 'utf8')) as {
        admin: { key: string; plan: string };
        demo: { key: string; plan: string };
      };
      expect(creds.demo.plan).toBe('FREE');
      expect((await call('GET', '/api/admin/api-keys', creds.admin.key)).status).toBe(200);
      expect((await call('GET', '/api/admin/api-keys', creds.demo.key)).status).toBe(200);
      expect((await cli(['apikeys', 'dev'], { HEADY_DATA_DIR: dir })).created).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gates POST /api/brain/chat on the Pro or Enterprise plan, naming the plan required', async () => {
    const free = (await cli(['apikeys', 'create', '--org', 'free-chat', '--role', 'member'])) as {
      key: string;
    };
    const r = await call('POST', '/api/brain/chat', free.key, { message: 'hi' });
    expect(r.status).toBe(403);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ code: 'FORBIDDEN', requiredPlan: 'PRO', plan: 'FREE' });
    expect(r.body.detail).toMatch(/Pro or Enterprise/);
    // the stack's Enterprise key passes the gate (no conductor runs here, so the run itself is 503)
    const ent = await call('POST', '/api/brain/chat', keys.admin, { message: 'hi' });
    expect([401, 403]).not.toContain(ent.status);
    const bad = await call('POST', '/api/brain/chat', keys.admin, { message: 42 });
    expect(bad.status).toBe(422);
  });

  it('publishes access decisions on INTERNAL routes to the AUDIT stream', async () => {
    await call('GET', '/api/admin/api-keys', keys.viewer); // denied
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      let count = 0;
      for (let i = 0; i < 50 && count === 0; i++) {
        const info = await jsm.streams.info('AUDIT', { subjects_filter: 'audit.access' });
        count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
        if (count === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(count).toBeGreaterThan(0);
    } finally {
      await nc.close();
    }
  });
});
