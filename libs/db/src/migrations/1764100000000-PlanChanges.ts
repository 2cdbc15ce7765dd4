import { type Kysely, sql } from 'kysely';

// When an organization's plan last changed at billing: billing.tier.changed events may
// arrive late or twice, and an older change must never overwrite a newer one.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE organizations ADD COLUMN plan_changed_at TIMESTAMPTZ`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE organizations DROP COLUMN plan_changed_at`.execute(db);
}
