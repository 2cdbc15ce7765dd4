import { createDb, type Database, type Kysely } from '@heady/db';
import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageKey, StageRunsRepository } from '../src/runner/stage-runs.repository.js';

// Regression (found by the SIGKILL chaos drill): a stage command redelivered after its stage
// was undone reset the COMPENSATED row to RUNNING and did the work again, so an effect that
// compensation removed was committed a second time. A settled row never runs again.
describe(StageRunsRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let repo: StageRunsRepository;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_pipeline_repo');
    db = createDb({ url: pg.url, poolMax: 4 });
    repo = new StageRunsRepository(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  async function newStage(): Promise<StageKey> {
    const id = randomUUID();
    await db
      .insertInto('pipeline_runs')
      .values({
        id,
        workflow_id: 'hcfullpipeline',
        seed: 1,
        status: 'RUNNING',
        action: 'chat',
        service_group: 'reasoning',
      } as never)
      .execute();
    return { runId: id, stageNum: 2, stageName: 'plan', iteration: 0 };
  }

  const statusOf = async (k: StageKey) => (await repo.getStageRow(k))?.status;

  it('counts every attempt of a RUNNING stage on its one row', async () => {
    const k = await newStage();
    expect((await repo.beginAttempt(k))?.attempts).toBe(1);
    expect((await repo.beginAttempt(k))?.attempts).toBe(2);
  });

  it('never begins a SUCCEEDED, FAILED or COMPENSATED stage again', async () => {
    const succeeded = await newStage();
    await repo.beginAttempt(succeeded);
    await repo.withStageLock(succeeded, (tx, row) =>
      repo.markSucceeded(tx, row.id, {}, {}, { undo: true }),
    );
    expect(await repo.beginAttempt(succeeded)).toBeUndefined();

    const failed = await newStage();
    await repo.beginAttempt(failed);
    expect(await repo.recordFailure(failed, 'boom', true)).toBe(true);
    expect(await repo.beginAttempt(failed)).toBeUndefined();
    expect(await statusOf(failed)).toBe('FAILED');

    const undone = await newStage();
    await repo.beginAttempt(undone);
    const row = await repo.withStageLock(undone, async (tx, r) => {
      await repo.markSucceeded(tx, r.id, {}, {}, { undo: true });
      return r;
    });
    expect(await repo.compensateOnce(row?.id ?? '', 'test', () => Promise.resolve())).toBe(true);
    expect(await repo.beginAttempt(undone)).toBeUndefined();
    expect(await statusOf(undone)).toBe('COMPENSATED');
  });

  it('does not run the work of a stage that another delivery failed for good meanwhile', async () => {
    const k = await newStage();
    await repo.beginAttempt(k);
    await repo.beginAttempt(k);
    // the first delivery's last attempt failed; the second one reaches the lock afterwards
    await repo.recordFailure(k, 'final', true);
    let ran = false;
    const out = await repo.withStageLock(k, () => {
      ran = true;
      return Promise.resolve(true);
    });
    expect(out).toBeUndefined();
    expect(ran).toBe(false);
    expect(await statusOf(k)).toBe('FAILED');
  });

  it('reports a failure that lands after another delivery settled the stage as not recorded', async () => {
    const k = await newStage();
    await repo.beginAttempt(k);
    await repo.withStageLock(k, (tx, row) => repo.markSucceeded(tx, row.id, {}, {}, null));
    expect(await repo.recordFailure(k, 'late', true)).toBe(false);
    expect(await statusOf(k)).toBe('SUCCEEDED');
  });
});
