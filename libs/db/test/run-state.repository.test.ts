import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPENSATION_FAILED,
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  RunStateRepository,
} from '../src/index.js';

// The run-state repository against a real PostgreSQL: every transition applies only from
// the statuses it may leave, and says whether it did.
describe(RunStateRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let state: RunStateRepository;
  let orgId: string;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_run_state');
    db = createDb({ url: pg.url, poolMax: 4 });
    state = new RunStateRepository(db);
    orgId = (await ensureOrganization(db, 'run-state')).id;
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  async function accept(requestId: string | null = null) {
    return state.accept({
      id: randomUUID(),
      workflow_id: 'hcfullpipeline',
      org_id: orgId,
      api_key_id: null,
      request_route: 'POST /api/runs',
      request_id: requestId,
      seed: 1,
      action: 'chat',
      service_group: 'reasoning',
      input: {},
      options: {},
    });
  }
  const statusOf = async (id: string) => (await state.get(id))?.status;

  it('accepts a run PENDING; a second run with the same idempotency key loses', async () => {
    const key = randomUUID();
    const first = await accept(key);
    expect(first?.status).toBe('PENDING');
    expect(await accept(key)).toBeUndefined();
  });

  it('admits only a PENDING run, and succeeds only a RUNNING one', async () => {
    const run = (await accept())!;
    expect(await state.succeed(run.id)).toBe(false);
    expect(await state.admit(run.id)).toBe(true);
    expect(await state.admit(run.id)).toBe(false);
    expect(await statusOf(run.id)).toBe('RUNNING');
    expect(await state.succeed(run.id)).toBe(true);
    const ended = await state.get(run.id);
    expect(ended?.status).toBe('SUCCEEDED');
    expect(ended?.finished_at).toBeInstanceOf(Date);
    // an ended run stays ended
    expect(await state.end(run.id, 'FAILED', 'late')).toBe(false);
    expect(await state.endCompensation(run.id, 'COMPENSATED', 'late')).toBe(false);
    expect(await state.failPending(run.id, 'late')).toBe(false);
    expect(await statusOf(run.id)).toBe('SUCCEEDED');
  });

  it('fails a run that never got its first command only while it is PENDING', async () => {
    const run = (await accept())!;
    expect(await state.failPending(run.id, 'bus refused')).toBe(true);
    expect((await state.get(run.id))?.error).toBe('bus refused');
    const admitted = (await accept())!;
    await state.admit(admitted.id);
    expect(await state.failPending(admitted.id, 'bus refused')).toBe(false);
  });

  it('stores the result and group of a going run, never of a SUCCEEDED one', async () => {
    const run = (await accept())!;
    await state.admit(run.id);
    expect(await state.recordGroup(run.id, 'creative')).toBe(true);
    expect(await state.setResult(run.id, { answer: 42 })).toBe(true);
    expect(await state.get(run.id)).toMatchObject({
      service_group: 'creative',
      result: { answer: 42 },
    });
    await state.succeed(run.id);
    expect(await state.retractResult(run.id)).toBe(false);
    expect(await state.setResult(run.id, { answer: 0 })).toBe(false);
    expect((await state.get(run.id))?.result).toEqual({ answer: 42 });
  });

  it('releases the idempotency key only while the run holds it', async () => {
    const key = randomUUID();
    const run = (await accept(key))!;
    expect(await state.releaseRequestId(run.id, 'another')).toBe(false);
    expect(await state.releaseRequestId(run.id, key)).toBe(true);
    expect((await state.get(run.id))?.request_id).toBeNull();
    expect((await accept(key))?.status).toBe('PENDING');
  });

  it('ends a compensated run once, and after a compensation failure that was redriven', async () => {
    const run = (await accept())!;
    await state.admit(run.id);
    expect(await state.endCompensation(run.id, 'CANCELLED', 'cancelled on request')).toBe(true);
    expect(await state.endCompensation(run.id, 'COMPENSATED', 'again')).toBe(false);
    expect(await statusOf(run.id)).toBe('CANCELLED');

    const failed = (await accept())!;
    await state.admit(failed.id);
    expect(await state.end(failed.id, 'FAILED', `${COMPENSATION_FAILED}plan failed: x`)).toBe(true);
    expect(await state.endCompensation(failed.id, 'COMPENSATED', 'plan: boom')).toBe(true);
    expect(await statusOf(failed.id)).toBe('COMPENSATED');

    const other = (await accept())!;
    await state.end(other.id, 'FAILED', 'ingest: bad input');
    expect(await state.endCompensation(other.id, 'COMPENSATED', 'x')).toBe(false);
  });

  it('records a cancellation request once, within the organization only', async () => {
    const run = (await accept())!;
    expect(await state.requestCancel(run.id, randomUUID())).toBeUndefined();
    expect(await state.requestCancel(run.id, orgId)).toBe('PENDING');
    const first = (await state.get(run.id))?.cancel_requested_at;
    expect(first).toBeInstanceOf(Date);
    await state.requestCancel(run.id, orgId);
    expect((await state.get(run.id))?.cancel_requested_at).toEqual(first);
  });

  it('writes through a handle inside a transaction that rolls back with it', async () => {
    const run = (await accept())!;
    await expect(
      db.transaction().execute(async (tx) => {
        expect(await state.handle(tx, run.id).admit()).toBe(true);
        throw new Error('stage failed');
      }),
    ).rejects.toThrow('stage failed');
    expect(await statusOf(run.id)).toBe('PENDING');
    await db.transaction().execute((tx) => state.handle(tx, run.id).admit());
    expect(await statusOf(run.id)).toBe('RUNNING');
  });
});
