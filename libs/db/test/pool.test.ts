import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, sql } from '../src/index.js';

// Regression (found by the PostgreSQL-outage chaos drill): `pg_ctl stop -m fast` sends every
// backend a FATAL 57P01; a client checked out of the pool but between queries (a stage's
// transaction waiting on other work) emitted it as an unhandled 'error' event, and the
// pipeline process died instead of retrying once the database was back.
describe('createDb', () => {
  let pg: TestDatabase;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_pool');
  });

  afterAll(async () => {
    await pg?.drop();
  });

  it('survives its backend being terminated while a transaction waits between queries', async () => {
    const db = createDb({ url: pg.url, poolMax: 2 });
    const admin = createDb({ url: pg.url, poolMax: 1 });
    const crashes: unknown[] = [];
    const onCrash = (e: unknown): void => void crashes.push(e);
    process.on('uncaughtException', onCrash);
    try {
      const tx = db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
        await sql`SELECT pg_terminate_backend(${rows[0]?.pid})`.execute(admin);
        // the FATAL arrives while this client runs no query
        await new Promise((r) => setTimeout(r, 300));
        await sql`SELECT 1`.execute(trx);
      });
      await expect(tx).rejects.toThrow();
      expect(crashes).toEqual([]);
      // the broken client was discarded: the pool serves a working one
      const { rows } = await sql<{ x: number }>`SELECT 1 AS x`.execute(db);
      expect(rows[0]?.x).toBe(1);
    } finally {
      process.off('uncaughtException', onCrash);
      await db.destroy();
      await admin.destroy();
    }
  });

  it('cancels a statement that runs past statementTimeoutMs and keeps serving', async () => {
    const db = createDb({ url: pg.url, poolMax: 1, statementTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(sql`SELECT pg_sleep(3)`.execute(db)).rejects.toMatchObject({ code: '57014' });
      expect(Date.now() - started).toBeLessThan(2_500);
      const { rows } = await sql<{ x: number }>`SELECT 1 AS x`.execute(db);
      expect(rows[0]?.x).toBe(1);
    } finally {
      await db.destroy();
    }
  });
});
