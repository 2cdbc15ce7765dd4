import {
  type Database,
  type Kysely,
  type PipelineRun,
  type StageRun,
  type Transaction,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** Identifies one execution of a stage: the idempotency key of its effects. */
export interface StageKey {
  runId: string;
  stageNum: number;
  stageName: string;
  iteration: number;
}

@Injectable()
export class StageRunsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  getRun(id: string): Promise<PipelineRun | undefined> {
    return this.db.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst();
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

  /** The run's completed stages named in `completed`, latest first: the order they are undone in. */
  completedStages(runId: string, completed: readonly string[]): Promise<StageRun[]> {
    if (completed.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('pipeline_stage_runs')
      .selectAll()
      .where('pipeline_run_id', '=', runId)
      .where('stage_name', 'in', [...completed])
      .where('status', 'in', ['SUCCEEDED', 'COMPENSATED'])
      .orderBy('stage_num', 'desc')
      .orderBy('iteration', 'desc')
      .execute();
  }

  /**
   * Runs a stage's compensation once: under the row's lock, only while it is SUCCEEDED,
   * and its effects commit with the COMPENSATED mark. False when it already took effect.
   */
  async compensateOnce(
    rowId: string,
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
        }))
        .where('id', '=', rowId)
        .execute();
      return true;
    });
  }

  /** Ends a run with `status` unless it already ended. */
  async endRun(
    runId: string,
    status: 'FAILED' | 'COMPENSATED' | 'CANCELLED',
    error: string | null,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ status, error, finished_at: new Date(), updated_at: new Date() })
      .where('id', '=', runId)
      .where('status', 'in', ['PENDING', 'RUNNING'])
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Ends a run FAILED unless it already ended. */
  async failRun(runId: string, error: string): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ status: 'FAILED', error, finished_at: new Date(), updated_at: new Date() })
      .where('id', '=', runId)
      .where('status', 'in', ['PENDING', 'RUNNING'])
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }
}
