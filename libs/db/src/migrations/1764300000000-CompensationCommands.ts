import { type Kysely, sql } from 'kysely';

// Compensation runs as its own durable command per stage: each stage row counts the
// attempts its compensation made (so a retry budget survives crashes and redrives), keeps
// the last compensation error, and records which process undid it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pipeline_stage_runs
      ADD COLUMN compensation_attempts INT NOT NULL DEFAULT 0,
      ADD COLUMN compensation_error TEXT,
      ADD COLUMN compensated_by TEXT;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pipeline_stage_runs
      DROP COLUMN compensation_attempts, DROP COLUMN compensation_error, DROP COLUMN compensated_by;
  `.execute(db);
}
