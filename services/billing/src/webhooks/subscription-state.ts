import { type Plan } from '@heady/contracts';

/** An organization's subscription as billing keeps it (a `billing_subscriptions` row). */
export interface SubscriptionState {
  orgId: string;
  subscriptionId: string;
  /** The plan the subscription's price buys. */
  pricePlan: Plan;
  /** The plan in force: Free once canceled, unpaid past the grace period or its customer deleted. */
  plan: Plan;
  status: string;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  pastDueSince: Date | null;
  lastPaidAt: Date | null;
  /** The `created` of the newest Stripe event applied. */
  sourceAt: Date;
  /** The subscription object's own newest timestamp (s), breaking ties between events of one second. */
  sourceVersion: number;
  sourceEventId: string;
}

/** What one webhook event says about an organization's subscription. */
export type SubscriptionFact =
  | {
      kind: 'snapshot';
      subscriptionId: string;
      pricePlan: Plan;
      status: string;
      currentPeriodStart: Date | null;
      currentPeriodEnd: Date | null;
      cancelAtPeriodEnd: boolean;
      version: number;
    }
  | { kind: 'invoice-failed'; subscriptionId: string | undefined; at: Date }
  | { kind: 'invoice-paid'; subscriptionId: string | undefined; at: Date }
  | { kind: 'customer-deleted' };

/** Subscription statuses that give no paid plan. */
const UNPAID = new Set(['canceled', 'unpaid', 'incomplete', 'incomplete_expired', 'paused']);

/** The plan in force for `s` at `now`, given the grace period after a failed payment. */
export function planInForce(
  s: Pick<SubscriptionState, 'status' | 'pricePlan' | 'pastDueSince'>,
  now: Date,
  graceMs: number,
): Plan {
  if (UNPAID.has(s.status)) return 'FREE';
  if (s.pastDueSince && now.getTime() - s.pastDueSince.getTime() >= graceMs) return 'FREE';
  return s.pricePlan;
}

/** The outcome of one event against the stored state. */
export type Decision =
  | { outcome: 'applied'; next: SubscriptionState }
  | { outcome: 'stale' | 'ignored'; next: undefined };

interface EventRef {
  id: string;
  created: Date;
}

const later = (a: Date | null, b: Date): Date => (a && a > b ? a : b);

/**
 * Applies `fact` (from event `ev`) to the stored state `current`, or says why not. Ordering:
 * a subscription snapshot is applied only when it is newer than the one stored — by the
 * event's `created`, then by the object's own newest timestamp — so a redelivered or late
 * older `customer.subscription.updated` never undoes a newer one. An invoice failure older
 * than the newest paid invoice is stale. Pure: the caller holds the row lock.
 */
export function decide(
  current: SubscriptionState | undefined,
  orgId: string,
  fact: SubscriptionFact,
  ev: EventRef,
  now: Date,
  graceMs: number,
): Decision {
  const withPlan = (s: SubscriptionState): Decision => ({
    outcome: 'applied',
    next: { ...s, plan: planInForce(s, now, graceMs) },
  });
  switch (fact.kind) {
    case 'snapshot': {
      if (current) {
        const sameSub = current.subscriptionId === fact.subscriptionId;
        const t = ev.created.getTime();
        const c = current.sourceAt.getTime();
        const older = sameSub
          ? t < c || (t === c && fact.version <= current.sourceVersion)
          : t < c || (t === c && current.status !== 'canceled');
        if (older) return { outcome: 'stale', next: undefined };
      }
      return withPlan({
        orgId,
        subscriptionId: fact.subscriptionId,
        pricePlan: fact.pricePlan,
        plan: fact.pricePlan,
        status: fact.status,
        currentPeriodStart: fact.currentPeriodStart,
        currentPeriodEnd: fact.currentPeriodEnd,
        cancelAtPeriodEnd: fact.cancelAtPeriodEnd,
        // a past-due subscription keeps the failure it is in grace for; paid-up ones have none
        pastDueSince: fact.status === 'past_due' ? (current?.pastDueSince ?? ev.created) : null,
        lastPaidAt: current?.lastPaidAt ?? null,
        sourceAt: ev.created,
        sourceVersion: fact.version,
        sourceEventId: ev.id,
      });
    }
    case 'invoice-failed': {
      if (!current || (fact.subscriptionId && fact.subscriptionId !== current.subscriptionId))
        return { outcome: 'ignored', next: undefined };
      if (current.lastPaidAt && current.lastPaidAt >= fact.at)
        return { outcome: 'stale', next: undefined };
      const since =
        current.pastDueSince && current.pastDueSince < fact.at ? current.pastDueSince : fact.at;
      return withPlan({
        ...current,
        pastDueSince: since,
        sourceAt: later(current.sourceAt, ev.created),
      });
    }
    case 'invoice-paid': {
      if (!current || (fact.subscriptionId && fact.subscriptionId !== current.subscriptionId))
        return { outcome: 'ignored', next: undefined };
      if (current.lastPaidAt && current.lastPaidAt >= fact.at)
        return { outcome: 'stale', next: undefined };
      // a failure before this payment is settled by it; one after it still counts
      const pastDueSince =
        current.pastDueSince && current.pastDueSince > fact.at ? current.pastDueSince : null;
      return withPlan({
        ...current,
        pastDueSince,
        lastPaidAt: fact.at,
        sourceAt: later(current.sourceAt, ev.created),
      });
    }
    case 'customer-deleted': {
      if (!current) return { outcome: 'ignored', next: undefined };
      if (current.status === 'canceled' && current.plan === 'FREE')
        return { outcome: 'stale', next: undefined };
      // Stripe cancels a deleted customer's subscriptions at once
      return withPlan({
        ...current,
        status: 'canceled',
        cancelAtPeriodEnd: false,
        sourceAt: later(current.sourceAt, ev.created),
        sourceEventId: ev.id,
      });
    }
  }
}
