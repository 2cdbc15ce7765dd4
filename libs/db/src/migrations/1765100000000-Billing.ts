import { type Kysely, sql } from 'kysely';

// Billing on Stripe: one Stripe customer per organization, the organization's subscription
// as the webhooks last described it, and every webhook event once, by its id.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE billing_customers (
      org_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
      stripe_customer_id TEXT NOT NULL UNIQUE,
      -- set by customer.deleted: a later checkout creates a new customer
      deleted_at TIMESTAMPTZ,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE billing_subscriptions (
      org_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
      stripe_subscription_id TEXT NOT NULL,
      -- the plan the subscription pays for, and the plan in force (Free once canceled or
      -- past its grace period)
      price_plan TEXT NOT NULL CHECK (price_plan IN ('FREE', 'PRO', 'ENTERPRISE')),
      plan TEXT NOT NULL CHECK (plan IN ('FREE', 'PRO', 'ENTERPRISE')),
      status TEXT NOT NULL,
      current_period_start TIMESTAMPTZ,
      current_period_end TIMESTAMPTZ,
      cancel_at_period_end BOOLEAN NOT NULL DEFAULT false,
      -- the first unpaid invoice's failure; the plan drops to Free a grace period after it
      past_due_since TIMESTAMPTZ,
      -- the newest paid invoice: an older failure delivered late is ignored
      last_paid_at TIMESTAMPTZ,
      -- the newest Stripe event applied (its created): an older one never overwrites it
      source_at TIMESTAMPTZ NOT NULL,
      -- the subscription object's own newest timestamp (seconds), for events of one second
      source_version BIGINT NOT NULL DEFAULT 0,
      source_event_id TEXT NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE stripe_events (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      created TIMESTAMPTZ NOT NULL,
      livemode BOOLEAN NOT NULL,
      payload JSONB NOT NULL,
      org_id UUID,
      -- applied, stale (older than what is stored), ignored (unknown type or organization)
      outcome TEXT NOT NULL,
      received_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX stripe_events_org ON stripe_events (org_id, created);
    -- plan changes to publish on billing.tier.changed, written in the transaction that
    -- decided them and published after it (again by the sweep if the process died between)
    CREATE TABLE billing_tier_outbox (
      id TEXT PRIMARY KEY,
      org_id UUID NOT NULL,
      plan TEXT NOT NULL,
      previous_plan TEXT NOT NULL,
      changed_at TIMESTAMPTZ NOT NULL,
      reason TEXT NOT NULL,
      published_at TIMESTAMPTZ
    );
    CREATE INDEX billing_tier_outbox_pending ON billing_tier_outbox (changed_at)
      WHERE published_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE billing_tier_outbox; DROP TABLE stripe_events; DROP TABLE billing_subscriptions; DROP TABLE billing_customers`.execute(
    db,
  );
}
