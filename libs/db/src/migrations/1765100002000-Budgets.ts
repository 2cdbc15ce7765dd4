import { type Kysely, sql } from 'kysely';

// Monthly budgets: an organization's credits for the month, what finished runs committed
// and what admitted runs hold reserved. A run's reservation is taken at admission (the
// conductor asks billing before it answers) and settled once by the run's final event.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE org_budgets (
      org_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
      monthly_credits_micros BIGINT NOT NULL CHECK (monthly_credits_micros >= 0),
      -- the month committed_micros counts (UTC); a reservation in a later month starts it over
      period_start DATE NOT NULL,
      committed_micros BIGINT NOT NULL DEFAULT 0,
      reserved_micros BIGINT NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE budget_reservations (
      run_id UUID PRIMARY KEY,
      org_id UUID NOT NULL,
      amount_micros BIGINT NOT NULL,
      -- RESERVED, then COMMITTED (a succeeded run: its cost) or RELEASED (any other end)
      status TEXT NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED')),
      committed_micros BIGINT NOT NULL DEFAULT 0,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      settled_at TIMESTAMPTZ
    );
    CREATE INDEX budget_reservations_open ON budget_reservations (created_at)
      WHERE status = 'RESERVED';
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE budget_reservations; DROP TABLE org_budgets`.execute(db);
}
