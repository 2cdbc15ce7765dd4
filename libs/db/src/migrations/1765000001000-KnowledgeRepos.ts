import { type Kysely, sql } from 'kysely';

// The knowledge vault's repository cursors: the last commit of each repository an
// organization ingested completely (`heady vault ingest repo`), so the next ingest sends only
// what `git diff` says changed since.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE knowledge_repo_cursors (
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      repo TEXT NOT NULL,
      commit TEXT NOT NULL CHECK (commit ~ '^[0-9a-f]{40}$'),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (org_id, repo)
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE knowledge_repo_cursors`.execute(db);
}
