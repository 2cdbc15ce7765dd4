import { type Plan, rethrowUnavailable } from '@heady/contracts';
import {
  AuditLogRepository,
  type AuditRecord,
  type Database,
  type Kysely,
  type Transaction,
  sql,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type Decision, type SubscriptionState } from './subscription-state.js';

/** A verified Stripe event, as stored once in `stripe_events`. */
export interface StoredEvent {
  id: string;
  type: string;
  created: Date;
  livemode: boolean;
  payload: Record<string, unknown>;
}

/** A plan change to announce on `billing.tier.changed` (a `billing_tier_outbox` row). */
export interface TierChange {
  id: string;
  orgId: string;
  plan: Plan;
  previousPlan: Plan;
  changedAt: Date;
  reason: string;
}

/** What storing one event did. */
export interface RecordOutcome {
  /** The event id was stored already: nothing was done again. */
  duplicate: boolean;
  /** applied, stale, ignored (duplicate when `duplicate`). */
  outcome: string;
  /** The plan change it caused, to publish. */
  tierChange: TierChange | undefined;
}

/** What to do with a new event inside its transaction. */
export interface EventApplication {
  orgId: string | undefined;
  /** Links the organization to the customer a checkout made. */
  link?: { customerId: string };
  /** Marks the organization's customer deleted. */
  customerDeleted?: boolean;
  /** Decides the next subscription state from the stored one (pure; the row is locked). */
  decide?: (current: SubscriptionState | undefined) => Decision;
  now: Date;
}

type Tx = Transaction<Database>;

function toState(r: {
  org_id: string;
  stripe_subscription_id: string;
  price_plan: Plan;
  plan: Plan;
  status: string;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  last_paid_at: Date | null;
  source_at: Date;
  source_version: string;
  source_event_id: string;
}): SubscriptionState {
  return {
    orgId: r.org_id,
    subscriptionId: r.stripe_subscription_id,
    pricePlan: r.price_plan,
    plan: r.plan,
    status: r.status,
    currentPeriodStart: r.current_period_start,
    currentPeriodEnd: r.current_period_end,
    cancelAtPeriodEnd: r.cancel_at_period_end,
    pastDueSince: r.past_due_since,
    lastPaidAt: r.last_paid_at,
    sourceAt: r.source_at,
    sourceVersion: Number(r.source_version),
    sourceEventId: r.source_event_id,
  };
}

/**
 * Billing's tables: `stripe_events` (every verified event once), `billing_subscriptions`,
 * `billing_tier_outbox`, and the webhook audit rows in `audit_logs`. An event, the state it
 * changes and the plan change it causes are written in one transaction, so a crash leaves
 * either all of them or none (and Stripe's retry then does it all).
 */
@Injectable()
export class BillingStoreRepository {
  private readonly audits: AuditLogRepository;

  constructor(@Inject(DB) private readonly db: Kysely<Database>) {
    this.audits = new AuditLogRepository(db);
  }

  /** Writes one webhook's audit row (verified or refused). */
  async audit(r: AuditRecord): Promise<void> {
    await this.audits.insert(r).catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /** The organization owning Stripe customer `customerId`, if any. */
  async orgOfCustomer(customerId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('billing_customers')
      .select('org_id')
      .where('stripe_customer_id', '=', customerId)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return row?.org_id;
  }

  /** The organization's subscription, if it ever had one. */
  async subscription(orgId: string): Promise<SubscriptionState | undefined> {
    const row = await this.db
      .selectFrom('billing_subscriptions')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return row && toState(row);
  }

  /**
   * Stores `ev` once and applies it: a second delivery of the same id changes nothing.
   * The organization's row is locked first, so events of one organization apply one at a time.
   */
  async record(ev: StoredEvent, app: EventApplication): Promise<RecordOutcome> {
    return this.db
      .transaction()
      .execute(async (tx) => {
        const inserted = await tx
          .insertInto('stripe_events')
          .values({
            id: ev.id,
            type: ev.type,
            created: ev.created,
            livemode: ev.livemode,
            payload: ev.payload,
            org_id: app.orgId ?? null,
            outcome: 'ignored',
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!inserted) return { duplicate: true, outcome: 'duplicate', tierChange: undefined };
        if (!app.orgId || !(await this.lockOrg(tx, app.orgId)))
          return { duplicate: false, outcome: 'ignored', tierChange: undefined };
        const orgId = app.orgId;
        if (app.link) {
          await tx
            .insertInto('billing_customers')
            .values({ org_id: orgId, stripe_customer_id: app.link.customerId })
            .onConflict((oc) => oc.column('org_id').doNothing())
            .execute();
        }
        if (app.customerDeleted) {
          await tx
            .updateTable('billing_customers')
            .set({ deleted_at: app.now })
            .where('org_id', '=', orgId)
            .execute();
        }
        let outcome = app.link || app.customerDeleted ? 'applied' : 'ignored';
        let tierChange: TierChange | undefined;
        if (app.decide) {
          const row = await tx
            .selectFrom('billing_subscriptions')
            .selectAll()
            .where('org_id', '=', orgId)
            .executeTakeFirst();
          const current = row && toState(row);
          const d = app.decide(current);
          outcome = d.outcome;
          if (d.outcome === 'applied') {
            await this.writeState(tx, d.next);
            const previous = current?.plan ?? (await this.orgPlan(tx, orgId));
            if (previous !== d.next.plan)
              tierChange = await this.enqueue(tx, {
                id: `tier:${ev.id}`,
                orgId,
                plan: d.next.plan,
                previousPlan: previous,
                changedAt: app.now,
                reason: `stripe ${ev.type}`,
              });
          }
        }
        await tx
          .updateTable('stripe_events')
          .set({ outcome, org_id: orgId })
          .where('id', '=', ev.id)
          .execute();
        return { duplicate: false, outcome, tierChange };
      })
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /**
   * Drops to Free every subscription unpaid for longer than `graceMs`, each with its plan
   * change queued; answers the changes.
   */
  async expireGrace(now: Date, graceMs: number): Promise<TierChange[]> {
    const cutoff = new Date(now.getTime() - graceMs);
    return this.db
      .transaction()
      .execute(async (tx) => {
        const due = await tx
          .selectFrom('billing_subscriptions')
          .select(['org_id', 'plan', 'past_due_since'])
          .where('plan', '<>', 'FREE')
          .where('past_due_since', '<=', cutoff)
          .forUpdate()
          .skipLocked()
          .execute();
        const changes: TierChange[] = [];
        for (const r of due) {
          await tx
            .updateTable('billing_subscriptions')
            .set({ plan: 'FREE', updated_at: now })
            .where('org_id', '=', r.org_id)
            .execute();
          changes.push(
            await this.enqueue(tx, {
              id: `tier:grace:${r.org_id}:${r.past_due_since?.getTime() ?? 0}`,
              orgId: r.org_id,
              plan: 'FREE',
              previousPlan: r.plan,
              changedAt: now,
              reason: 'payment failed: grace period over',
            }),
          );
        }
        return changes;
      })
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /** Plan changes not yet published, oldest first. */
  async pendingTierChanges(limit = 100): Promise<TierChange[]> {
    const rows = await this.db
      .selectFrom('billing_tier_outbox')
      .selectAll()
      .where('published_at', 'is', null)
      .orderBy('changed_at')
      .limit(limit)
      .execute()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return rows.map((r) => ({
      id: r.id,
      orgId: r.org_id,
      plan: r.plan,
      previousPlan: r.previous_plan,
      changedAt: r.changed_at,
      reason: r.reason,
    }));
  }

  /** Marks a plan change published (JetStream acknowledged it). */
  async markPublished(id: string): Promise<void> {
    await this.db
      .updateTable('billing_tier_outbox')
      .set({ published_at: sql<Date>`now()` })
      .where('id', '=', id)
      .execute()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /** A stored event's raw payload, for `heady billing replay`. */
  async storedEvent(id: string): Promise<StoredEvent | undefined> {
    const r = await this.db
      .selectFrom('stripe_events')
      .select(['id', 'type', 'created', 'livemode', 'payload'])
      .where('id', '=', id)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return r;
  }

  private async lockOrg(tx: Tx, orgId: string): Promise<boolean> {
    const r = await tx
      .selectFrom('organizations')
      .select('id')
      .where('id', '=', orgId)
      .forUpdate()
      .executeTakeFirst();
    return !!r;
  }

  private async orgPlan(tx: Tx, orgId: string): Promise<Plan> {
    const r = await tx
      .selectFrom('organizations')
      .select('plan')
      .where('id', '=', orgId)
      .executeTakeFirst();
    return r?.plan ?? 'FREE';
  }

  private async writeState(tx: Tx, s: SubscriptionState): Promise<void> {
    const values = {
      org_id: s.orgId,
      stripe_subscription_id: s.subscriptionId,
      price_plan: s.pricePlan,
      plan: s.plan,
      status: s.status,
      current_period_start: s.currentPeriodStart,
      current_period_end: s.currentPeriodEnd,
      cancel_at_period_end: s.cancelAtPeriodEnd,
      past_due_since: s.pastDueSince,
      last_paid_at: s.lastPaidAt,
      source_at: s.sourceAt,
      source_version: s.sourceVersion,
      source_event_id: s.sourceEventId,
      updated_at: new Date(),
    };
    const { org_id: _org, ...update } = values;
    await tx
      .insertInto('billing_subscriptions')
      .values(values)
      .onConflict((oc) => oc.column('org_id').doUpdateSet(update))
      .execute();
  }

  private async enqueue(tx: Tx, c: TierChange): Promise<TierChange> {
    await tx
      .insertInto('billing_tier_outbox')
      .values({
        id: c.id,
        org_id: c.orgId,
        plan: c.plan,
        previous_plan: c.previousPlan,
        changed_at: c.changedAt,
        reason: c.reason,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return c;
  }
}
