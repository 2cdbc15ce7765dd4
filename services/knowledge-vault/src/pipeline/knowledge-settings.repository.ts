import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** `knowledge_settings`: an organization's vault opt-ins (none unless it chose them). */
@Injectable()
export class KnowledgeSettingsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  async get(orgId: string): Promise<{ pipelineResults: boolean }> {
    const row = await this.db
      .selectFrom('knowledge_settings')
      .select('pipeline_results')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return { pipelineResults: row?.pipeline_results ?? false };
  }

  async set(orgId: string, pipelineResults: boolean): Promise<void> {
    await this.db
      .insertInto('knowledge_settings')
      .values({ org_id: orgId, pipeline_results: pipelineResults })
      .onConflict((oc) =>
        oc
          .column('org_id')
          .doUpdateSet({ pipeline_results: pipelineResults, updated_at: sql`now()` }),
      )
      .execute();
  }
}
