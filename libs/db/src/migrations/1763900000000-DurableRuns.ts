import { type Kysely, sql } from 'kysely';

// Durable runs: each stage row keeps the smallest input its compensation needs, and how
// many times that compensation took effect (exactly once is the contract; the count proves it).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pipeline_stage_runs
      ADD COLUMN compensation JSONB,
      ADD COLUMN compensations INT NOT NULL DEFAULT 0,
      ADD COLUMN compensated_at TIMESTAMPTZ;
    -- POST /api/runs/:id/cancel sets it; the run's next stage compensates and ends it CANCELLED
    ALTER TABLE pipeline_runs ADD COLUMN cancel_requested_at TIMESTAMPTZ;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pipeline_stage_runs
      DROP COLUMN compensation, DROP COLUMN compensations, DROP COLUMN compensated_at;
    ALTER TABLE pipeline_runs DROP COLUMN cancel_requested_at;
  `.execute(db);
}
