import { type Kysely, sql } from 'kysely';

// What an organization lets the knowledge vault take in on its own: `pipeline_results`
// (off unless the organization opts in) stores each of its finalized runs' results as a
// PIPELINE document.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE knowledge_settings (
      org_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
      pipeline_results BOOLEAN NOT NULL DEFAULT false,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE knowledge_settings`.execute(db);
}
