import { type Kysely, sql } from 'kysely';

// One row per task a run sends to a service group's workers (`work.<group>`): claimed by the
// delivery that runs it, and holding its answer once done, so a redelivered task only
// re-announces its result. The organization is the run's, so every read is scoped to it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE task_runs (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
      run_id UUID NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
      iteration INT NOT NULL DEFAULT 0,
      task_id TEXT NOT NULL,
      group_name TEXT NOT NULL,
      kind TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
      attempts INT NOT NULL DEFAULT 1,
      output JSONB,
      provider TEXT,
      model TEXT,
      prompt_tokens INT NOT NULL DEFAULT 0,
      completion_tokens INT NOT NULL DEFAULT 0,
      -- every provider call of the last attempt: [{provider, outcome, error}]
      tried JSONB NOT NULL DEFAULT '[]',
      error TEXT,
      claimed_by TEXT,
      started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      finished_at TIMESTAMPTZ,
      UNIQUE (run_id, iteration, task_id)
    );
    CREATE INDEX task_runs_org_idx ON task_runs (org_id, started_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE task_runs`.execute(db);
}
