import { type Database, type Kysely, type NewPipelineRun, type PipelineRun } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

@Injectable()
export class RunsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /**
   * Writes a PENDING run. With an idempotency key, a concurrent or earlier run holding
   * the same key wins and this returns undefined (the unique partial index decides).
   */
  async insertPending(run: NewPipelineRun): Promise<PipelineRun | undefined> {
    return this.db
      .insertInto('pipeline_runs')
      .values(run)
      .onConflict((oc) => oc.column('request_id').where('request_id', 'is not', null).doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async findByRequestId(requestId: string): Promise<PipelineRun | undefined> {
    return this.db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('request_id', '=', requestId)
      .executeTakeFirst();
  }

  /** Marks a run that never got its first command FAILED (only while still PENDING). */
  async failPending(id: string, error: string): Promise<void> {
    await this.db
      .updateTable('pipeline_runs')
      .set({ status: 'FAILED', error, finished_at: new Date(), updated_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'PENDING')
      .execute();
  }
}
