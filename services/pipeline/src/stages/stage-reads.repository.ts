import { type ModelPrice } from '@heady/contracts';
import { type Database, type TaskRun, type Transaction } from '@heady/db';

/** A stage's successful row, as finalize packages it. */
export interface StageOutputRow {
  stage_name: string;
  output: unknown;
  attempts: number;
}

/** When a stage started and finished, as monitor measures it. */
export interface StageTimingRow {
  stage_name: string;
  started_at: Date;
  finished_at: Date | null;
}

/**
 * What stages read, bound to the transaction their effects and their SUCCEEDED mark commit in
 * (so a stage reads what earlier stages committed, and nothing a rolled-back attempt wrote).
 * Stages get this handle instead of raw kysely: the queries live here, once, and a stage file
 * holds only its decision.
 */
export class StageReads {
  constructor(
    private readonly tx: Transaction<Database>,
    private readonly runId: string,
  ) {}

  /** The price table (`model_prices`, kept by billing and `heady billing prices`). */
  async prices(): Promise<ModelPrice[]> {
    const rows = await this.tx.selectFrom('model_prices').selectAll().execute();
    return rows.map((r) => ({
      provider: r.provider,
      model: r.model,
      inputUsdPerMtok: Number(r.input_usd_per_mtok),
      outputUsdPerMtok: Number(r.output_usd_per_mtok),
    }));
  }

  /** The service group's routing weight; undefined when the group is not in the table. */
  async groupWeight(group: string): Promise<number | undefined> {
    const row = await this.tx
      .selectFrom('service_groups')
      .select(['weight'])
      .where('name', '=', group)
      .executeTakeFirst();
    return row?.weight;
  }

  /** The workflow's cap on tasks in flight per run; undefined when the workflow is unknown. */
  async maxConcurrentTasks(workflowId: string): Promise<number | undefined> {
    const row = await this.tx
      .selectFrom('workflows')
      .select(['max_concurrent_tasks'])
      .where('id', '=', workflowId)
      .executeTakeFirst();
    return row?.max_concurrent_tasks;
  }

  /** The outputs of the run's stages that succeeded in `iteration`, in stage order. */
  succeededOutputs(iteration: number): Promise<StageOutputRow[]> {
    return this.tx
      .selectFrom('pipeline_stage_runs')
      .select(['stage_name', 'output', 'attempts'])
      .where('pipeline_run_id', '=', this.runId)
      .where('iteration', '=', iteration)
      .where('status', '=', 'SUCCEEDED')
      .orderBy('stage_num')
      .execute();
  }

  /** Start and finish of every stage of the run that succeeded (any iteration). */
  succeededTimings(): Promise<StageTimingRow[]> {
    return this.tx
      .selectFrom('pipeline_stage_runs')
      .select(['stage_name', 'started_at', 'finished_at'])
      .where('pipeline_run_id', '=', this.runId)
      .where('status', '=', 'SUCCEEDED')
      .execute();
  }

  /**
   * The run's tasks in `iteration`, as the workers recorded them (each read sees what they
   * committed since the last one, so execute can wait on it).
   */
  tasks(iteration: number): Promise<TaskRun[]> {
    return this.tx
      .selectFrom('task_runs')
      .selectAll()
      .where('run_id', '=', this.runId)
      .where('iteration', '=', iteration)
      .orderBy('task_id')
      .execute();
  }
}
