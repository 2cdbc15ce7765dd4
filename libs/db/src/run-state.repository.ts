import { type Kysely, sql } from 'kysely';
import { type Database, type NewPipelineRun, type PipelineRun, type RunStatus } from './schema.js';

/** How the error of a run that ended FAILED because a compensation failed begins. */
export const COMPENSATION_FAILED = 'compensation of ';

/** A run still going: not yet ended. */
export const RUN_GOING = ['PENDING', 'RUNNING'] as const satisfies readonly RunStatus[];

/** Every status but SUCCEEDED: a run that may still be undone (its compensation may touch it). */
const UNDOABLE = [
  'PENDING',
  'RUNNING',
  'FAILED',
  'COMPENSATED',
  'CANCELLED',
] as const satisfies readonly RunStatus[];

/**
 * The statuses each write may leave from: an update of a run in any other status does not
 * apply (and says so). `endCompensation` may also leave FAILED when a compensation failure
 * ended the run (its dead-lettered compensation was redriven); see `RunStateRepository`.
 */
export const RUN_TRANSITIONS = {
  /** The conductor's first command never went out: PENDING → FAILED. */
  failPending: ['PENDING'],
  /** Channel entry admits the run into the pipeline: PENDING → RUNNING. */
  admit: ['PENDING'],
  /** Plan records the service group (status unchanged). */
  recordGroup: RUN_GOING,
  /** Finalize stores the run's result (status unchanged). */
  setResult: RUN_GOING,
  /** Finalize's compensation retracts it (status unchanged). */
  retractResult: UNDOABLE,
  /** Channel entry's compensation lets the Idempotency-Key name a new run (status unchanged). */
  releaseRequestId: UNDOABLE,
  /** Monitor closes the run: RUNNING → SUCCEEDED. */
  succeed: ['RUNNING'],
  /** A stage or a compensation ends the run: PENDING | RUNNING → FAILED, COMPENSATED or CANCELLED. */
  end: RUN_GOING,
  /** The last compensation ends the run COMPENSATED or CANCELLED. */
  endCompensation: RUN_GOING,
} as const satisfies Record<string, readonly RunStatus[]>;

export type RunTransition = keyof typeof RUN_TRANSITIONS;

/**
 * A run's writes, bound to one run and to the transaction its stage's effects commit in
 * (what a stage receives instead of writing `pipeline_runs` itself).
 */
export interface RunHandle {
  readonly runId: string;
  /** PENDING → RUNNING; false when the run was no longer PENDING. */
  admit(): Promise<boolean>;
  recordGroup(group: string): Promise<boolean>;
  setResult(result: Record<string, unknown>): Promise<boolean>;
  retractResult(): Promise<boolean>;
  releaseRequestId(requestId: string): Promise<boolean>;
  /** RUNNING → SUCCEEDED; false when the run was not RUNNING. */
  succeed(): Promise<boolean>;
}

/**
 * The only code that writes `pipeline_runs` (a test in `libs/db/test` fails when another
 * file does). Each write is a named transition: one UPDATE guarded by the statuses it may
 * leave from (`RUN_TRANSITIONS`), returning whether it applied, so two writers racing on
 * one run (the stage that ends it, the compensation that ends it, the conductor that gives
 * up on it) never overwrite each other's end. Built on a pool or on a transaction (`in`).
 */
export class RunStateRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The same writes, joining transaction `tx`. */
  in(tx: Kysely<Database>): RunStateRepository {
    return new RunStateRepository(tx);
  }

  /** A handle on run `runId`'s writes, joining transaction `tx`. */
  handle(tx: Kysely<Database>, runId: string): RunHandle {
    const s = this.in(tx);
    return {
      runId,
      admit: () => s.admit(runId),
      recordGroup: (group) => s.recordGroup(runId, group),
      setResult: (result) => s.setResult(runId, result),
      retractResult: () => s.retractResult(runId),
      releaseRequestId: (requestId) => s.releaseRequestId(runId, requestId),
      succeed: () => s.succeed(runId),
    };
  }

  get(id: string): Promise<PipelineRun | undefined> {
    return this.db.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Accepts a run: writes it PENDING. With an idempotency key, a concurrent or earlier run
   * holding the same key in the same scope (organization, API key, route) wins and this
   * returns undefined (the unique partial index decides).
   */
  accept(run: Omit<NewPipelineRun, 'status'>): Promise<PipelineRun | undefined> {
    return this.db
      .insertInto('pipeline_runs')
      .values({ ...run, status: 'PENDING' })
      .onConflict((oc) =>
        oc
          .columns(['org_id', 'api_key_id', 'request_route', 'request_id'])
          .where('request_id', 'is not', null)
          .doNothing(),
      )
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Records a cancellation request (the first one's time is kept, so a repeat is harmless;
   * the run's status is left to the runner, which stops it). Returns the run's status, or
   * undefined when `orgId` has no such run.
   */
  async requestCancel(id: string, orgId: string): Promise<RunStatus | undefined> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .returning('status')
      .executeTakeFirst();
    return r?.status;
  }

  /** A run that never got its first command: PENDING → FAILED. */
  failPending(id: string, error: string): Promise<boolean> {
    return this.transition(id, 'failPending', {
      status: 'FAILED',
      error,
      finished_at: new Date(),
    });
  }

  admit(id: string): Promise<boolean> {
    return this.transition(id, 'admit', { status: 'RUNNING', started_at: new Date() });
  }

  recordGroup(id: string, group: string): Promise<boolean> {
    return this.transition(id, 'recordGroup', { service_group: group });
  }

  setResult(id: string, result: Record<string, unknown>): Promise<boolean> {
    return this.transition(id, 'setResult', { result });
  }

  retractResult(id: string): Promise<boolean> {
    return this.transition(id, 'retractResult', { result: {} });
  }

  /** Lets the Idempotency-Key `requestId` name a new run (only while this run holds it). */
  async releaseRequestId(id: string, requestId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ request_id: null, updated_at: new Date() })
      .where('id', '=', id)
      .where('request_id', '=', requestId)
      .where('status', 'in', RUN_TRANSITIONS.releaseRequestId)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  succeed(id: string): Promise<boolean> {
    return this.transition(id, 'succeed', { status: 'SUCCEEDED', finished_at: new Date() });
  }

  /** Ends a run still going with `status`; false when it already ended. */
  end(
    id: string,
    status: 'FAILED' | 'COMPENSATED' | 'CANCELLED',
    error: string | null,
  ): Promise<boolean> {
    return this.transition(id, 'end', { status, error, finished_at: new Date() });
  }

  /**
   * Ends a run whose compensation completed with `status`: a run still going, or one that
   * ended FAILED because a compensation failed (its dead-lettered compensation was redriven).
   */
  async endCompensation(
    id: string,
    status: 'COMPENSATED' | 'CANCELLED',
    error: string,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ status, error, finished_at: new Date(), updated_at: new Date() })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb('status', 'in', RUN_TRANSITIONS.endCompensation),
          eb.and([eb('status', '=', 'FAILED'), eb('error', 'like', `${COMPENSATION_FAILED}%`)]),
        ]),
      )
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  private async transition(
    id: string,
    name: RunTransition,
    set: {
      status?: RunStatus;
      error?: string | null;
      started_at?: Date;
      finished_at?: Date;
      service_group?: string;
      result?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ ...set, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', 'in', RUN_TRANSITIONS[name])
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }
}
