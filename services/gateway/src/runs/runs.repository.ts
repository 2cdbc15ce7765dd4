import { type Database, type Kysely, type PipelineRun, type StageRun, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

@Injectable()
export class RunsReadRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** The run and its stage executions, in itinerary order. */
  async findWithStages(id: string): Promise<{ run: PipelineRun; stages: StageRun[] } | undefined> {
    const run = await this.db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!run) return undefined;
    const stages = await this.db
      .selectFrom('pipeline_stage_runs')
      .selectAll()
      .where('pipeline_run_id', '=', id)
      .orderBy('iteration')
      .orderBy('stage_num')
      .execute();
    return { run, stages };
  }

  /**
   * Records a cancellation request (the first one's time is kept, so a repeat is harmless).
   * Returns the run's status, or undefined when there is no such run.
   */
  async requestCancel(id: string): Promise<string | undefined> {
    const r = await this.db
      .updateTable('pipeline_runs')
      .set({ cancel_requested_at: sql<Date>`coalesce(cancel_requested_at, now())` })
      .where('id', '=', id)
      .returning('status')
      .executeTakeFirst();
    return r?.status;
  }
}
