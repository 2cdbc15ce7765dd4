import { type Task } from '@heady/contracts';
import { type Database, type Kysely, sql, type TaskRun } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** What one delivery of a task found, and the attempt it claimed. */
export interface TaskClaim {
  /** The task's row after the claim (or as another delivery left it). */
  row: TaskRun | undefined;
  /** The attempt this delivery claimed; undefined when the task was already settled. */
  attempt: number | undefined;
  /** False when the task's run does not exist. */
  runExists: boolean;
  /** Set when another delivery holds the task (its lease runs until then): try again after. */
  heldUntil?: Date;
}

/** A task's answer, as the worker records it. */
export interface TaskOutcome {
  output: Record<string, unknown>;
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  tried: unknown[];
}

/** A JSON array for a jsonb column (the driver would send a JS array as a PostgreSQL array). */
function jsonArray(value: unknown[]) {
  return sql<unknown[]>`${JSON.stringify(value)}::jsonb`;
}

/** `task_runs`: a task claimed by the delivery that runs it, and its answer once done. */
@Injectable()
export class TaskRunsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /**
   * Claims an attempt of `task` for `by`: creates its row (in the run's organization) on the
   * first delivery, counts one more attempt while it is RUNNING, and claims nothing once it
   * is SUCCEEDED or FAILED — a redelivery then only re-announces what the row holds.
   */
  async claim(task: Task, by: string, leaseMs: number): Promise<TaskClaim> {
    const lease = sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`;
    const claimed = await this.db
      .insertInto('task_runs')
      .columns([
        'org_id',
        'run_id',
        'iteration',
        'task_id',
        'group_name',
        'kind',
        'status',
        'claimed_by',
        'lease_until',
      ])
      .expression((eb) =>
        eb
          .selectFrom('pipeline_runs')
          .select([
            'org_id',
            'id',
            sql<number>`${task.iteration}::int`.as('iteration'),
            sql<string>`${task.taskId}::text`.as('task_id'),
            sql<string>`${task.group}::text`.as('group_name'),
            sql<string>`${task.kind}::text`.as('kind'),
            sql<'RUNNING'>`'RUNNING'::text`.as('status'),
            sql<string>`${by}::text`.as('claimed_by'),
            lease.as('lease_until'),
          ])
          .where('id', '=', task.runId),
      )
      .onConflict((oc) =>
        oc
          .columns(['run_id', 'iteration', 'task_id'])
          .doUpdateSet((eb) => ({
            attempts: eb('task_runs.attempts', '+', 1),
            claimed_by: by,
            lease_until: lease,
          }))
          .where('task_runs.status', '=', 'RUNNING')
          // a delivery that holds a live lease keeps the task: no second provider call
          .where((eb) =>
            eb.or([
              eb('task_runs.lease_until', 'is', null),
              eb('task_runs.lease_until', '<', sql<Date>`now()`),
            ]),
          ),
      )
      .returningAll()
      .executeTakeFirst();
    if (claimed) {
      return { row: claimed, attempt: claimed.attempts, runExists: true };
    }
    const row = await this.get(task);
    return {
      row,
      attempt: undefined,
      runExists: row !== undefined || (await this.runExists(task)),
      ...(row?.status === 'RUNNING' && row.lease_until ? { heldUntil: row.lease_until } : {}),
    };
  }

  /** Extends the lease of the delivery `by` on the task; false once it no longer holds it. */
  async renew(rowId: string, by: string, leaseMs: number): Promise<boolean> {
    const r = await this.db
      .updateTable('task_runs')
      .set({ lease_until: sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval` })
      .where('id', '=', rowId)
      .where('claimed_by', '=', by)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  get(task: Pick<Task, 'runId' | 'iteration' | 'taskId'>): Promise<TaskRun | undefined> {
    return this.db
      .selectFrom('task_runs')
      .selectAll()
      .where('run_id', '=', task.runId)
      .where('iteration', '=', task.iteration)
      .where('task_id', '=', task.taskId)
      .executeTakeFirst();
  }

  /** Records the answer; false when another delivery settled the task first. */
  async succeed(rowId: string, o: TaskOutcome): Promise<boolean> {
    const r = await this.db
      .updateTable('task_runs')
      .set({
        status: 'SUCCEEDED',
        output: o.output,
        provider: o.provider,
        model: o.model,
        prompt_tokens: o.promptTokens,
        completion_tokens: o.completionTokens,
        tried: jsonArray(o.tried),
        error: null,
        finished_at: new Date(),
      })
      .where('id', '=', rowId)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Records that the task failed for good; false when another delivery settled it first. */
  async fail(rowId: string, error: string, tried: unknown[]): Promise<boolean> {
    const r = await this.db
      .updateTable('task_runs')
      .set({ status: 'FAILED', error, tried: jsonArray(tried), finished_at: new Date() })
      .where('id', '=', rowId)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Keeps the last attempt's error and provider calls on a task that will be retried. */
  async recordAttemptFailure(rowId: string, error: string, tried: unknown[]): Promise<void> {
    await this.db
      .updateTable('task_runs')
      // the lease ends with the attempt: the retry's delivery claims the task at once
      .set({ error, tried: jsonArray(tried), lease_until: null })
      .where('id', '=', rowId)
      .where('status', '=', 'RUNNING')
      .execute();
  }

  /**
   * Why the task's run no longer wants its tasks: cancelled, ended, or being compensated
   * (execute failed or timed out); undefined while it is PENDING or RUNNING.
   */
  async whyStop(runId: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select(['status', 'cancel_requested_at'])
      .where('id', '=', runId)
      .executeTakeFirst();
    if (!r) return 'the run does not exist';
    if (r.cancel_requested_at) return 'the run was cancelled';
    if (r.status !== 'PENDING' && r.status !== 'RUNNING') return `the run is ${r.status}`;
    return undefined;
  }

  private async runExists(task: Pick<Task, 'runId'>): Promise<boolean> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('id', '=', task.runId)
      .executeTakeFirst();
    return r !== undefined;
  }
}
