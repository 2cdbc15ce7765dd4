import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** A run as the vault reads it once it succeeded (read only: the pipeline owns `pipeline_runs`). */
export interface FinishedRun {
  id: string;
  orgId: string | null;
  status: string;
  action: string;
  classification: string;
  input: Record<string, unknown>;
  result: Record<string, unknown>;
  finishedAt: Date | null;
}

@Injectable()
export class FinishedRunsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  async find(runId: string): Promise<FinishedRun | undefined> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select([
        'id',
        'org_id',
        'status',
        'action',
        'classification',
        'input',
        'result',
        'finished_at',
      ])
      .where('id', '=', runId)
      .executeTakeFirst();
    return (
      r && {
        id: r.id,
        orgId: r.org_id,
        status: r.status,
        action: r.action,
        classification: r.classification,
        input: r.input,
        result: r.result,
        finishedAt: r.finished_at,
      }
    );
  }
}
