import { type Plan } from '@heady/contracts';
import type Stripe from 'stripe';
import { type SubscriptionFact } from './subscription-state.js';

/** What billing reads from one verified Stripe event. */
export interface EventFacts {
  /** The organization the event names itself (client_reference_id, metadata.orgId). */
  orgId: string | undefined;
  /** The Stripe customer it is about, to find the organization otherwise. */
  customerId: string | undefined;
  /** `checkout.session.completed`: the customer and subscription the checkout made. */
  checkout?: { customerId: string; subscriptionId: string | undefined };
  /** What it says about the subscription; undefined for events that change none. */
  fact?: SubscriptionFact;
}

/** The event types billing acts on; every other type is stored and acknowledged. */
export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
  'customer.deleted',
] as const;

const idOf = (v: string | { id: string } | null | undefined): string | undefined =>
  typeof v === 'string' ? v : (v?.id ?? undefined);

const date = (s: number | null | undefined): Date | null =>
  typeof s === 'number' && s > 0 ? new Date(s * 1000) : null;

/** A loosely read field (older API versions put the period on the subscription itself). */
function num(o: unknown, key: string): number | undefined {
  const v = (o as Record<string, unknown> | null | undefined)?.[key];
  return typeof v === 'number' ? v : undefined;
}

function subscriptionFact(
  sub: Stripe.Subscription,
  planOfPrice: (priceId: string) => Plan | undefined,
): SubscriptionFact | undefined {
  const item = sub.items.data[0];
  const priceId = item?.price.id;
  const pricePlan = priceId ? planOfPrice(priceId) : undefined;
  if (!pricePlan) return undefined;
  const start = num(item, 'current_period_start') ?? num(sub, 'current_period_start');
  const end = num(item, 'current_period_end') ?? num(sub, 'current_period_end');
  return {
    kind: 'snapshot',
    subscriptionId: sub.id,
    pricePlan,
    // a deleted subscription's event carries its last state; it is canceled either way
    status: sub.status,
    currentPeriodStart: date(start),
    currentPeriodEnd: date(end),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    version: Math.max(
      sub.created,
      start ?? 0,
      sub.canceled_at ?? 0,
      sub.ended_at ?? 0,
      sub.cancel_at ?? 0,
    ),
  };
}

function invoiceSubscription(inv: Stripe.Invoice): string | undefined {
  const legacy = (inv as unknown as { subscription?: string | { id: string } | null }).subscription;
  return idOf(legacy) ?? idOf(inv.parent?.subscription_details?.subscription);
}

/** What billing reads from `event`; `planOfPrice` maps the configured price ids to plans. */
export function factsOf(
  event: Stripe.Event,
  planOfPrice: (priceId: string) => Plan | undefined,
): EventFacts {
  const created = new Date(event.created * 1000);
  // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- Stripe has some 250 event types: the others are stored and acknowledged (default)
  switch (event.type) {
    case 'checkout.session.completed': {
      const s = event.data.object;
      const customerId = idOf(s.customer);
      return {
        orgId: s.client_reference_id ?? s.metadata?.orgId ?? undefined,
        customerId,
        ...(customerId ? { checkout: { customerId, subscriptionId: idOf(s.subscription) } } : {}),
      };
    }
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const sub = event.data.object;
      const fact = subscriptionFact(sub, planOfPrice);
      return {
        orgId: sub.metadata.orgId,
        customerId: idOf(sub.customer),
        ...(fact ? { fact } : {}),
      };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const inv = event.data.object;
      const paidAt = inv.status_transitions.paid_at;
      return {
        orgId: undefined,
        customerId: idOf(inv.customer),
        fact: {
          kind: event.type === 'invoice.paid' ? 'invoice-paid' : 'invoice-failed',
          subscriptionId: invoiceSubscription(inv),
          at: event.type === 'invoice.paid' && paidAt ? new Date(paidAt * 1000) : created,
        },
      };
    }
    case 'customer.deleted': {
      const c = event.data.object;
      return { orgId: c.metadata.orgId, customerId: c.id, fact: { kind: 'customer-deleted' } };
    }
    default:
      return { orgId: undefined, customerId: undefined };
  }
}
