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
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('plan changes from billing.tier.changed apply at once', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  const prefix = `heady-test:${randomBytes(4).toString('hex')}:`;

  const heady = (...args: string[]): Promise<unknown> => stack.heady(args);

  const policyOf = async (key: string, i = 0): Promise<string | null> => {
    const res = await fetch(`${stack.gateways[i]?.url ?? ''}/api/admin/api-keys`, {
      headers: { authorization: `Bearer ${key}` },
    });
    await res.arrayBuffer();
    return res.headers.get('ratelimit-policy');
  };

  /** Polls until the policy is `want` (the event travels through JetStream) or 5 s pass. */
  const waitPolicy = async (key: string, want: string | null): Promise<number> => {
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      if ((await policyOf(key)) === want) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`policy never became ${String(want)}`);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_tiers');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      gatewayReplicas: 2,
      // a cache that would outlive the test: only the event can change the plan in time
      env: { HEADY_REDIS_PREFIX: prefix, HEADY_TIER_CACHE_TTL_MS: '600000' },
    });
    db = createDb({ url: pg.url, poolMax: 2 });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('moves a Free organization to Pro on both replicas with the next request, in PostgreSQL and the Redis cache', async () => {
    const org = await ensureOrganization(db, 'upgrader', 'FREE');
    const key = (await createApiKey(db, { orgId: org.id, name: 't', role: 'member' })).key;
    expect(await policyOf(key, 0)).toBe('"free";q=30;w=60');
    const redis = new Redis({ maxRetriesPerRequest: 0 });
    try {
      expect(await redis.get(`${prefix}tier:${org.id}`)).toBe('FREE');

      expect(await heady('billing', 'tier', 'upgrader', 'pro')).toMatchObject({
        orgId: org.id,
        plan: 'PRO',
        previousPlan: 'FREE',
      });
      await waitPolicy(key, '"pro";q=120;w=60');
      expect(await policyOf(key, 1)).toBe('"pro";q=120;w=60');
      expect(await redis.get(`${prefix}tier:${org.id}`)).toBe('PRO');
      const row = await db
        .selectFrom('organizations')
        .select(['plan', 'plan_changed_at'])
        .where('id', '=', org.id)
        .executeTakeFirstOrThrow();
      expect(row.plan).toBe('PRO');
      expect(row.plan_changed_at).toBeInstanceOf(Date);
    } finally {
      redis.disconnect();
    }
  });

  it('ignores a change older than the one recorded, and applies Enterprise (unlimited) after it', async () => {
    const org = await ensureOrganization(db, 'upgrader');
    const key = (await createApiKey(db, { orgId: org.id, name: 'u', role: 'member' })).key;
    await heady('billing', 'tier', org.id, 'FREE', '--at', '2020-01-01T00:00:00Z');
    await heady('billing', 'tier', org.id, 'ENTERPRISE');
    // events are consumed in order: once Enterprise (unlimited: no policy) shows, the old Free change was handled
    await waitPolicy(key, null);
    const row = await db
      .selectFrom('organizations')
      .select('plan')
      .where('id', '=', org.id)
      .executeTakeFirstOrThrow();
    expect(row.plan).toBe('ENTERPRISE');
    const log = stack.gateways.flatMap((g) => g.lines).join('\n');
    expect(log).toMatch(/ignored an older plan change/);
  });

  it('refuses a tier change signed by a service not allowed to publish billing events', async () => {
    const org = await ensureOrganization(db, 'upgrader');
    const key = (await createApiKey(db, { orgId: org.id, name: 'v', role: 'member' })).key;
    await heady('billing', 'tier', org.id, 'FREE', '--as', 'gateway');
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      let dead = null;
      for (let i = 0; i < 50 && !dead; i++) {
        dead = await jsm.streams.getMessage('DLQ', { last_by_subj: 'dlq.BILLING.gateway-tiers' });
        if (!dead) await new Promise((r) => setTimeout(r, 100));
      }
      expect(dead?.header.get('Heady-Dlq-Reason')).toMatch(/rejected/);
    } finally {
      await nc.close();
    }
    expect(await policyOf(key)).toBeNull(); // still Enterprise
  });
});
