import { type Kysely, sql } from 'kysely';

// A task's claim is a lease: the delivery working on it renews `lease_until` while it works,
// and another delivery of the same task (JetStream redelivers one whose worker was slow to
// acknowledge) takes it over only once the lease has run out — so two workers never call a
// provider for one task at once, and a crashed worker's task is taken over after its lease.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE task_runs ADD COLUMN lease_until TIMESTAMPTZ`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE task_runs DROP COLUMN lease_until`.execute(db);
}
