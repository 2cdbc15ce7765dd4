import {
  type Database,
  type Kysely,
  type PipelineRun,
  type RunHandle,
  RunStateRepository,
  type StageRun,
  type Transaction,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

export { COMPENSATION_FAILED } from '@heady/db';

/** Identifies one execution of a stage: the idempotency key of its effects. */
export interface StageKey {
  runId: string;
  stageNum: number;
  stageName: string;
  iteration: number;
}

@Injectable()
export class StageRunsRepository {
  /** Writes the run's state (the only writer of `pipeline_runs`). */
  private readonly state: RunStateRepository;

  constructor(@Inject(DB) private readonly db: Kysely<Database>) {
    this.state = new RunStateRepository(db);
  }

  getRun(id: string): Promise<PipelineRun | undefined> {
    return this.state.get(id);
  }

  /** Run `runId`'s writes, joining the stage's transaction `tx`. */
  runHandle(tx: Transaction<Database>, runId: string): RunHandle {
    return this.state.handle(tx, runId);
  }

  /**
   * Counts an attempt on the stage's single row, creating it on the first. Returns
   * undefined when the row is settled (SUCCEEDED, FAILED or COMPENSATED): another delivery
   * finished it, and a settled stage never runs again (a COMPENSATED one would redo an
   * undone effect). Committed on its own, so the count survives a failed or crashed attempt.
   */
  beginAttempt(k: StageKey): Promise<StageRun | undefined> {
    return this.db
      .insertInto('pipeline_stage_runs')
      .values({
        pipeline_run_id: k.runId,
        stage_num: k.stageNum,
        stage_name: k.stageName,
        iteration: k.iteration,
        status: 'RUNNING',
        attempts: 1,
        error: null,
      })
      .onConflict((oc) =>
        oc
          .columns(['pipeline_run_id', 'stage_num', 'iteration'])
          .doUpdateSet((eb) => ({
            attempts: eb('pipeline_stage_runs.attempts', '+', 1),
            status: 'RUNNING',
            error: null,
          }))
          .where('pipeline_stage_runs.status', '=', 'RUNNING'),
      )
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Runs `fn` in a transaction holding the stage row's lock, so two deliveries of one stage
   * never both do the work; undefined (fn not run) when the row is no longer RUNNING.
   */
  async withStageLock<T>(
    k: StageKey,
    fn: (tx: Transaction<Database>, row: StageRun) => Promise<T>,
  ): Promise<T | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('pipeline_stage_runs')
        .selectAll()
        .where('pipeline_run_id', '=', k.runId)
        .where('stage_num', '=', k.stageNum)
        .where('iteration', '=', k.iteration)
        .forUpdate()
        .executeTakeFirst();
      if (row?.status !== 'RUNNING') return undefined;
      return fn(tx, row);
    });
  }

  /** The stage's row, if an attempt began. */
  getStageRow(k: StageKey): Promise<StageRun | undefined> {
    return this.db
      .selectFrom('pipeline_stage_runs')
      .selectAll()
      .where('pipeline_run_id', '=', k.runId)
      .where('stage_num', '=', k.stageNum)
      .where('iteration', '=', k.iteration)
      .executeTakeFirst();
  }

  /**
   * The row a compensation of `stageNum` undoes: the stage's latest execution up to
   * `iteration` (a run sent back to execute re-runs only some stages in a later iteration).
   */
  latestStageRow(
    runId: string,
    stageNum: number,
    iteration: number,
  ): Promise<StageRun | undefined> {
    return this.db
      .selectFrom('pipeline_stage_runs')
      .selectAll()
      .where('pipeline_run_id', '=', runId)
      .where('stage_num', '=', stageNum)
      .where('iteration', '<=', iteration)
      .orderBy('iteration', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async markSucceeded(
    tx: Transaction<Database>,
    rowId: string,
    output: Record<string, unknown>,
    metrics: Record<string, number>,
    compensation: Record<string, unknown> | null,
  ): Promise<void> {
    await tx
      .updateTable('pipeline_stage_runs')
      .set({
        status: 'SUCCEEDED',
        finished_at: new Date(),
        output,
        metrics,
        error: null,
        compensation,
      })
      .where('id', '=', rowId)
      .execute();
  }

  /**
   * Records a failed attempt; `final` marks the stage FAILED (no more retries). False when
   * the row is no longer RUNNING (another delivery settled it meanwhile).
   */
  async recordFailure(k: StageKey, error: string, final: boolean): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_stage_runs')
      .set({ error, ...(final ? { status: 'FAILED' as const, finished_at: new Date() } : {}) })
      .where('pipeline_run_id', '=', k.runId)
      .where('stage_num', '=', k.stageNum)
      .where('iteration', '=', k.iteration)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /**
   * Counts an attempt of the stage's compensation, only while the stage is SUCCEEDED (not yet
   * undone). Committed on its own, so the count survives a crash and a redrive. Returns the
   * attempt number, or undefined when the stage is not there to undo (already compensated).
   */
  async beginCompensationAttempt(rowId: string): Promise<number | undefined> {
    const r = await this.db
      .updateTable('pipeline_stage_runs')
      .set((eb) => ({ compensation_attempts: eb('compensation_attempts', '+', 1) }))
      .where('id', '=', rowId)
      .where('status', '=', 'SUCCEEDED')
      .returning('compensation_attempts')
      .executeTakeFirst();
    return r?.compensation_attempts;
  }

  /** Records why a compensation attempt failed (the stage stays SUCCEEDED: not undone). */
  async recordCompensationFailure(rowId: string, error: string): Promise<void> {
    await this.db
      .updateTable('pipeline_stage_runs')
      .set({ compensation_error: error })
      .where('id', '=', rowId)
      .execute();
  }

  /**
   * Runs a stage's compensation once: under the row's lock, only while it is SUCCEEDED,
   * and its effects commit with the COMPENSATED mark (and `by`, the instance that undid it).
   * False when it already took effect.
   */
  async compensateOnce(
    rowId: string,
    by: string,
    fn: (tx: Transaction<Database>, data: Record<string, unknown> | null) => Promise<void>,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('pipeline_stage_runs')
        .select(['status', 'compensation'])
        .where('id', '=', rowId)
        .forUpdate()
        .executeTakeFirst();
      if (row?.status !== 'SUCCEEDED') return false;
      await fn(tx, row.compensation);
      await tx
        .updateTable('pipeline_stage_runs')
        .set((eb) => ({
          status: 'COMPENSATED',
          compensated_at: new Date(),
          compensations: eb('compensations', '+', 1),
          compensated_by: by,
          compensation_error: null,
        }))
        .where('id', '=', rowId)
        .execute();
      return true;
    });
  }

  /**
   * Ends a run whose compensation completed with `status`: a run still going, or one that
   * ended FAILED because a compensation failed (its dead-lettered compensation was redriven).
   */
  endCompensation(
    runId: string,
    status: 'COMPENSATED' | 'CANCELLED',
    error: string,
  ): Promise<boolean> {
    return this.state.endCompensation(runId, status, error);
  }

  /** Ends a run with `status` unless it already ended. */
  endRun(
    runId: string,
    status: 'FAILED' | 'COMPENSATED' | 'CANCELLED',
    error: string | null,
  ): Promise<boolean> {
    return this.state.end(runId, status, error);
  }
}
