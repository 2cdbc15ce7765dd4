import { type StageCommand } from '@heady/contracts';
import {
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  type NewPipelineRun,
} from '@heady/db';
import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../src/runner/stage-decision.js';
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
  /** Claims an attempt now: its number, or undefined when none was claimed. */
  const begin = async (k: StageKey) => (await repo.claimAttempt(k, Date.now())).attempt;

  it('counts every attempt of a RUNNING stage on its one row', async () => {
    const k = await newStage();
    expect(await begin(k)).toBe(1);
    expect(await begin(k)).toBe(2);
  });

  it('never begins a SUCCEEDED, FAILED or COMPENSATED stage again', async () => {
    const succeeded = await newStage();
    await begin(succeeded);
    await repo.withStageLock(succeeded, (tx, row) =>
      repo.markSucceeded(tx, row.id, {}, {}, { undo: true }),
    );
    expect(await begin(succeeded)).toBeUndefined();

    const failed = await newStage();
    await begin(failed);
    expect(await repo.recordFailure(failed, 'boom', true)).toBe(true);
    expect(await begin(failed)).toBeUndefined();
    expect(await statusOf(failed)).toBe('FAILED');

    const undone = await newStage();
    await begin(undone);
    const row = await repo.withStageLock(undone, async (tx, r) => {
      await repo.markSucceeded(tx, r.id, {}, {}, { undo: true });
      return r;
    });
    expect(await repo.compensateOnce(row?.id ?? '', 'test', () => Promise.resolve())).toBe(true);
    expect(await begin(undone)).toBeUndefined();
    expect(await statusOf(undone)).toBe('COMPENSATED');
  });

  it('does not run the work of a stage that another delivery failed for good meanwhile', async () => {
    const k = await newStage();
    await begin(k);
    await begin(k);
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
    await begin(k);
    await repo.withStageLock(k, (tx, row) => repo.markSucceeded(tx, row.id, {}, {}, null));
    expect(await repo.recordFailure(k, 'late', true)).toBe(false);
    expect(await statusOf(k)).toBe('SUCCEEDED');
  });

  describe('claimAttempt', () => {
    const CREATED = '2026-12-01T12:00:00.123956Z';
    // the driver reads created_at in whole milliseconds, cut (not rounded): the deadline counts from there
    const CREATED_MS = Date.parse('2026-12-01T12:00:00.123Z');

    async function runWith(more: Partial<NewPipelineRun>): Promise<StageKey> {
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
          created_at: CREATED,
          ...more,
        } as never)
        .execute();
      return { runId: id, stageNum: 2, stageName: 'plan', iteration: 0 };
    }

    const cmdOf = (k: StageKey) =>
      ({ runId: k.runId, stage: k.stageName, stageNum: k.stageNum, iteration: 0 }) as StageCommand;

    it('reads the run with its organization and the row as it was before this claim', async () => {
      const org = await ensureOrganization(db, `claim-${randomUUID()}`);
      const k = await runWith({ org_id: org.id });
      const first = await repo.claimAttempt(k, CREATED_MS);
      expect(first.run).toMatchObject({ id: k.runId, org_id: org.id, status: 'RUNNING' });
      expect(first.run?.created_at.getTime()).toBe(CREATED_MS);
      expect(first.row).toBeUndefined();
      expect(first.attempt).toBe(1);

      await repo.recordFailure(k, 'transient', false);
      const second = await repo.claimAttempt(k, CREATED_MS);
      expect(second.row).toEqual({ status: 'RUNNING', attempts: 1, error: 'transient' });
      expect(second.attempt).toBe(2);
      expect(await repo.getStageRow(k)).toMatchObject({ attempts: 2, error: null });
    });

    it('finds nothing and claims nothing for a run that does not exist', async () => {
      const k = { runId: randomUUID(), stageNum: 2, stageName: 'plan', iteration: 0 };
      expect(await repo.claimAttempt(k, Date.now())).toEqual({
        run: undefined,
        row: undefined,
        attempt: undefined,
      });
      expect(await repo.getStageRow(k)).toBeUndefined();
    });

    // the claim takes an attempt exactly when `decide` says `run`, and leaves no row otherwise
    const RUNS: [string, Partial<NewPipelineRun>, number][] = [
      ['a RUNNING run', {}, CREATED_MS],
      ['a PENDING run', { status: 'PENDING' }, CREATED_MS],
      ['a cancelled run', { cancel_requested_at: new Date(CREATED_MS) }, CREATED_MS],
      ['a run at its deadline', { options: { deadlineMs: 1_000 } }, CREATED_MS + 1_000],
      ['a run 1 ms past its deadline', { options: { deadlineMs: 1_000 } }, CREATED_MS + 1_001],
      ['a run with a deadline that is no number', { options: { deadlineMs: '5' } }, CREATED_MS + 9],
      ['a SUCCEEDED run', { status: 'SUCCEEDED' }, CREATED_MS],
      ['a COMPENSATED run', { status: 'COMPENSATED' }, CREATED_MS],
      ['a CANCELLED run', { status: 'CANCELLED' }, CREATED_MS],
      ['a FAILED run', { status: 'FAILED' }, CREATED_MS],
    ];

    it.each(RUNS)('claims the stage of %s exactly when decide says run', async (_, more, now) => {
      const k = await runWith(more);
      const claim = await repo.claimAttempt(k, now);
      const decision = decide({ cmd: cmdOf(k), run: claim.run, row: claim.row, now });
      expect(claim.attempt !== undefined).toBe(decision.kind === 'run');
      expect((await repo.getStageRow(k))?.attempts).toBe(claim.attempt);
    });

    it('tells the deadline apart to the millisecond, as decide does', async () => {
      const within = await runWith({ options: { deadlineMs: 1_000 } });
      expect((await repo.claimAttempt(within, CREATED_MS + 1_000)).attempt).toBe(1);
      const past = await runWith({ options: { deadlineMs: 1_000 } });
      expect((await repo.claimAttempt(past, CREATED_MS + 1_001)).attempt).toBeUndefined();
    });
  });
});
