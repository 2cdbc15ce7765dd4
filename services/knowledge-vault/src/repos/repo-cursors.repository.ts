import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** `knowledge_repo_cursors`: the last commit of each repository an organization fully ingested. */
@Injectable()
export class RepoCursorsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  async get(orgId: string, repo: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('knowledge_repo_cursors')
      .select('commit')
      .where('org_id', '=', orgId)
      .where('repo', '=', repo)
      .executeTakeFirst();
    return row?.commit ?? null;
  }

  async set(orgId: string, repo: string, commit: string): Promise<void> {
    await this.db
      .insertInto('knowledge_repo_cursors')
      .values({ org_id: orgId, repo, commit })
      .onConflict((oc) =>
        oc.columns(['org_id', 'repo']).doUpdateSet({ commit, updated_at: sql`now()` }),
      )
      .execute();
  }
}
