import { createTestDatabase, TEST_PG_URL } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDb,
  dropDatabase,
  ensureDatabase,
  migrateDown,
  migrateToLatest,
  migrationStatus,
  migrations,
  ensureOrganization,
  sql,
} from '../src/index.js';

describe('migrations', () => {
  const url = (() => {
    const u = new URL(TEST_PG_URL);
    u.pathname = `/heady_migrate_${Date.now().toString(36)}`;
    return u.toString();
  })();
  afterAll(() => dropDatabase(url));

  it('creates the database when it is missing and applies every migration', async () => {
    const out = await migrateToLatest(url);
    expect(out.createdDatabase).toBe(true);
    expect(out.results.map((r) => r.migrationName)).toEqual(Object.keys(migrations));
    expect(out.results.every((r) => r.status === 'Success')).toBe(true);
  });

  it('is a no-op the second time', async () => {
    const out = await migrateToLatest(url);
    expect(out.createdDatabase).toBe(false);
    expect(out.results).toEqual([]);
  });

  it('reverts every migration with down and re-applies them', async () => {
    for (let i = 0; i < Object.keys(migrations).length; i++) await migrateDown(url);
    expect((await migrationStatus(url)).every((m) => m.executedAt === undefined)).toBe(true);
    const db = createDb({ url });
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely%'`.execute(
      db,
    );
    expect(rows[0]?.n).toBe(0);
    await db.destroy();
    await migrateToLatest(url);
    expect((await migrationStatus(url)).every((m) => m.executedAt instanceof Date)).toBe(true);
  });

  it('is safe when three processes create the same database at once', async () => {
    const u = new URL(url);
    u.pathname = `/heady_race_${Date.now().toString(36)}`;
    const created = await Promise.all([1, 2, 3].map(() => ensureDatabase(u.toString())));
    expect(created.filter(Boolean)).toHaveLength(1);
    await dropDatabase(u.toString());
  });
});

describe('schema', () => {
  let tdb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: ReturnType<typeof createDb>;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createDb({ url: tdb.url });
  });
  afterAll(async () => {
    await db.destroy();
    await tdb.drop();
  });

  it('seeds the twelve service groups of the design reference with their weights', async () => {
    const groups = await db
      .selectFrom('service_groups')
      .select(['name', 'weight'])
      .orderBy('weight', 'desc')
      .execute();
    expect(groups).toHaveLength(12);
    expect(groups[0]).toEqual({ name: 'reasoning', weight: 1 });
    expect(groups.at(-1)).toEqual({ name: 'ops', weight: 0.3 });
    const analyze = await db
      .selectFrom('routing_actions')
      .select('group_name')
      .where('action', '=', 'analyze')
      .executeTakeFirst();
    expect(analyze?.group_name).toBe('reasoning');
  });

  it('refuses a second row for the same run, stage and iteration', async () => {
    const id = randomUUID();
    await db
      .insertInto('pipeline_runs')
      .values({
        id,
        workflow_id: 'hcfullpipeline',
        seed: '42',
        status: 'PENDING',
        action: 'chat',
        service_group: 'reasoning',
        request_id: null,
        request_hash: null,
        session_id: null,
        trace_id: null,
        error: null,
      })
      .execute();
    const row = {
      pipeline_run_id: id,
      stage_num: 2,
      stage_name: 'plan',
      status: 'SUCCEEDED' as const,
      error: null,
    };
    await db.insertInto('pipeline_stage_runs').values(row).execute();
    await expect(db.insertInto('pipeline_stage_runs').values(row).execute()).rejects.toThrow(
      /pipeline_stage_runs_once_key/,
    );
  });

  it('refuses a second run with the same idempotency key', async () => {
    const values = {
      workflow_id: 'hcfullpipeline',
      seed: '1',
      status: 'PENDING' as const,
      action: 'chat',
      service_group: 'reasoning',
      request_id: 'k-1',
      request_hash: 'h',
      session_id: null,
      trace_id: null,
      error: null,
    };
    await db
      .insertInto('pipeline_runs')
      .values({ id: randomUUID(), ...values })
      .execute();
    await expect(
      db
        .insertInto('pipeline_runs')
        .values({ id: randomUUID(), ...values })
        .execute(),
    ).rejects.toThrow(/request_id/);
  });

  it('scopes an idempotency key to organization, API key and route', async () => {
    const acme = await ensureOrganization(db, 'mig-acme');
    const globex = await ensureOrganization(db, 'mig-globex');
    const keyId = randomUUID();
    const run = (org_id: string, api_key_id: string, request_route: string) => ({
      id: randomUUID(),
      workflow_id: 'hcfullpipeline',
      seed: '1',
      status: 'PENDING' as const,
      action: 'chat',
      service_group: 'reasoning',
      request_id: 'k-scoped',
      request_hash: 'h',
      org_id,
      api_key_id,
      request_route,
    });
    await db
      .insertInto('pipeline_runs')
      .values(run(acme.id, keyId, 'POST /api/runs'))
      .execute();
    // another organization, another key of the same organization, another route: all new
    await db
      .insertInto('pipeline_runs')
      .values(run(globex.id, keyId, 'POST /api/runs'))
      .execute();
    await db
      .insertInto('pipeline_runs')
      .values(run(acme.id, randomUUID(), 'POST /api/runs'))
      .execute();
    await db
      .insertInto('pipeline_runs')
      .values(run(acme.id, keyId, 'POST /api/brain/chat'))
      .execute();
    await expect(
      db
        .insertInto('pipeline_runs')
        .values(run(acme.id, keyId, 'POST /api/runs'))
        .execute(),
    ).rejects.toThrow(/pipeline_runs_request_id_scope_key/);
  });
});
