import {
  type Database,
  type Kysely,
  type PipelineRun,
  RUN_GOING,
  type RunHandle,
  RunStateRepository,
  type StageRun,
  sql,
  type Transaction,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type RawBuilder } from 'kysely';
import { type StageRowState } from './stage-decision.js';

export { COMPENSATION_FAILED } from '@heady/db';

/** Identifies one execution of a stage: the idempotency key of its effects. */
export interface StageKey {
  runId: string;
  stageNum: number;
  stageName: string;
  iteration: number;
}

/** What one delivery of a stage command found, and the attempt it claimed (`claimAttempt`). */
export interface StageClaim {
  /** The run; undefined when there is none. */
  run: PipelineRun | undefined;
  /** The stage's row before this delivery's claim; undefined before the stage's first attempt. */
  row: StageRowState | undefined;
  /** The number of the attempt this delivery claimed; undefined when it claimed none. */
  attempt: number | undefined;
}

/**
 * Whether the run's `options.deadlineMs` has not passed at `now` (epoch ms), counted from its
 * `created_at` cut to whole milliseconds as the driver reads it: `stopOf`'s deadline, in SQL.
 */
function withinDeadline(now: number): RawBuilder<boolean> {
  return sql<boolean>`CASE WHEN jsonb_typeof(run.options -> 'deadlineMs') = 'number'
    THEN ${now}::numeric <= floor(extract(epoch FROM run.created_at) * 1000)
      + (run.options ->> 'deadlineMs')::numeric
    ELSE true END`;
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
   * One delivery's read and claim, in one statement: the run (with its organization, status,
   * cancellation request and deadline), the stage's row as the delivery found it, and, when the
   * stage may run, this attempt counted on that row (created on the first). The stage may run
   * when `decide` would say `run`: the run is going, has no cancellation request and is within
   * its deadline at `now` (`stopOf`, in SQL), and the row is absent or RUNNING. A settled row
   * (SUCCEEDED, FAILED or COMPENSATED) is never claimed again: another delivery finished it,
   * and a COMPENSATED stage would redo an undone effect. The count is committed on its own, so
   * it survives a failed or crashed attempt.
   */
  async claimAttempt(k: StageKey, now: number): Promise<StageClaim> {
    const r = await this.db
      .with('run', (db) => db.selectFrom('pipeline_runs').selectAll().where('id', '=', k.runId))
      .with('found', (db) =>
        db
          .selectFrom('pipeline_stage_runs')
          .select(['status', 'attempts', 'error'])
          .where('pipeline_run_id', '=', k.runId)
          .where('stage_num', '=', k.stageNum)
          .where('iteration', '=', k.iteration),
      )
      .with('claimed', (db) =>
        db
          .insertInto('pipeline_stage_runs')
          .columns([
            'pipeline_run_id',
            'stage_num',
            'stage_name',
            'iteration',
            'status',
            'attempts',
            'error',
          ])
          .expression(
            db
              .selectFrom('run')
              .select([
                'run.id',
                sql<number>`${k.stageNum}::int`.as('stage_num'),
                sql<string>`${k.stageName}::text`.as('stage_name'),
                sql<number>`${k.iteration}::int`.as('iteration'),
                sql<'RUNNING'>`'RUNNING'::text`.as('status'),
                sql<number>`1`.as('attempts'),
                sql<null>`NULL::text`.as('error'),
              ])
              .where('run.status', 'in', RUN_GOING)
              .where('run.cancel_requested_at', 'is', null)
              .where(withinDeadline(now)),
          )
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
          .returning('attempts'),
      )
      .selectFrom('run')
      .leftJoin('found', (j) => j.onTrue())
      .leftJoin('claimed', (j) => j.onTrue())
      .selectAll('run')
      .select([
        'found.status as found_status',
        'found.attempts as found_attempts',
        'found.error as found_error',
        'claimed.attempts as claimed_attempts',
      ])
      .executeTakeFirst();
    if (!r) return { run: undefined, row: undefined, attempt: undefined };
    const { found_status, found_attempts, found_error, claimed_attempts, ...run } = r;
    return {
      run,
      row:
        found_status === null || found_attempts === null
          ? undefined
          : { status: found_status, attempts: found_attempts, error: found_error },
      attempt: claimed_attempts ?? undefined,
    };
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
