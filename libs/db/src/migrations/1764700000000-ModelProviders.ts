import { type Kysely, sql } from 'kysely';

// The model providers the workers run tasks on, as data: operators change them at run time
// (`heady providers set|rm`) and every workers process picks the change up. Deployment-wide
// configuration, written only by operators: it names API key *variables*, never keys.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE model_providers (
      name TEXT PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]*$'),
      -- order of preference: the first that serves a group is its primary
      position INT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('local', 'openai-compatible', 'anthropic')),
      base_url TEXT,
      model TEXT,
      api_key_env TEXT CHECK (api_key_env ~ '^[A-Z_][A-Z0-9_]*$'),
      concurrency INT NOT NULL DEFAULT 8 CHECK (concurrency BETWEEN 1 AND 1024),
      -- the service groups it serves; NULL: every group
      groups TEXT[],
      enabled BOOLEAN NOT NULL DEFAULT true,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE model_providers`.execute(db);
}
