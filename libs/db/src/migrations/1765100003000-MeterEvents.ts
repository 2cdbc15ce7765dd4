import { type Kysely, sql } from 'kysely';

// Usage reported to Stripe as billing meter events: when a run's usage reached Stripe.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE usage_records ADD COLUMN metered_at TIMESTAMPTZ;
    CREATE INDEX usage_records_unmetered ON usage_records (finished_at) WHERE metered_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE usage_records DROP COLUMN metered_at`.execute(db);
}
