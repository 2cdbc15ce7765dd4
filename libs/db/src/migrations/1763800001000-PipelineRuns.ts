import { type Kysely, sql } from 'kysely';

// Runs and their stage executions. Beyond the design reference's columns: what the run
// asked for (action, input, options, session), the routing decision, the idempotency
// request hash and the stage iteration/attempt counters that make redelivery idempotent.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE pipeline_runs (
      id UUID PRIMARY KEY, workflow_id TEXT NOT NULL REFERENCES workflows(id), request_id TEXT,
      seed BIGINT NOT NULL, status TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      finished_at TIMESTAMPTZ, result JSONB NOT NULL DEFAULT '{}',
      request_hash TEXT, action TEXT NOT NULL, service_group TEXT NOT NULL,
      input JSONB NOT NULL DEFAULT '{}', options JSONB NOT NULL DEFAULT '{}', session_id TEXT,
      classification TEXT NOT NULL DEFAULT 'INTERNAL'
        CHECK (classification IN ('PUBLIC','INTERNAL','PROPRIETARY','RESTRICTED')),
      trace_id TEXT, error TEXT,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      CHECK (status IN ('PENDING','RUNNING','SUCCEEDED','FAILED','COMPENSATED','CANCELLED')));
    CREATE UNIQUE INDEX pipeline_runs_request_id_key ON pipeline_runs (request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX pipeline_runs_created_at_idx ON pipeline_runs (created_at DESC);
    CREATE INDEX pipeline_runs_status_idx ON pipeline_runs (status) WHERE status IN ('PENDING','RUNNING');

    CREATE TABLE pipeline_stage_runs (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      pipeline_run_id UUID NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
      stage_num INT NOT NULL, stage_name TEXT NOT NULL, status TEXT NOT NULL,
      started_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ,
      metrics JSONB NOT NULL DEFAULT '{}', error TEXT,
      iteration INT NOT NULL DEFAULT 0, attempts INT NOT NULL DEFAULT 0,
      output JSONB NOT NULL DEFAULT '{}',
      CHECK (status IN ('RUNNING','SUCCEEDED','FAILED','COMPENSATED')));
    CREATE INDEX pipeline_stage_runs_run_stage_idx ON pipeline_stage_runs (pipeline_run_id, stage_num);
    -- one row per (run, stage, iteration): a redelivered stage finds its row and never forks the run
    CREATE UNIQUE INDEX pipeline_stage_runs_once_key ON pipeline_stage_runs (pipeline_run_id, stage_num, iteration);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE pipeline_stage_runs; DROP TABLE pipeline_runs;`.execute(db);
}
