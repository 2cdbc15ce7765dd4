import { type Kysely, sql } from 'kysely';

// Every run belongs to an organization, and an Idempotency-Key names a run only within
// (organization, API key, route): a key another caller used is a new key for this one, and
// a conflict can never hand out another organization's run id. Runs written before this
// migration have no organization: no API key reads them, operators (`heady runs`) still do.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pipeline_runs
      ADD COLUMN org_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
      ADD COLUMN api_key_id UUID,
      ADD COLUMN request_route TEXT;
    DROP INDEX pipeline_runs_request_id_key;
    -- NULLS NOT DISTINCT: the pre-tenancy runs (no organization, key or route) still share one scope
    CREATE UNIQUE INDEX pipeline_runs_request_id_scope_key
      ON pipeline_runs (org_id, api_key_id, request_route, request_id) NULLS NOT DISTINCT
      WHERE request_id IS NOT NULL;
    CREATE INDEX pipeline_runs_org_idx ON pipeline_runs (org_id, created_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // two callers may now hold the same key: the oldest run keeps it, the others lose it
  await sql`
    UPDATE pipeline_runs r SET request_id = NULL
      WHERE request_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM pipeline_runs o
                     WHERE o.request_id = r.request_id
                       AND (o.created_at, o.id) < (r.created_at, r.id));
    DROP INDEX pipeline_runs_org_idx;
    DROP INDEX pipeline_runs_request_id_scope_key;
    CREATE UNIQUE INDEX pipeline_runs_request_id_key ON pipeline_runs (request_id) WHERE request_id IS NOT NULL;
    ALTER TABLE pipeline_runs DROP COLUMN org_id, DROP COLUMN api_key_id, DROP COLUMN request_route;
  `.execute(db);
}
