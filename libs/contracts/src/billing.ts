import { z } from 'zod';

// The requests of billing's RPCs (`bill.*`). The gateway checks a REST body against the
// same fields at the door (without `orgId`, which it adds from the caller's API key);
// billing checks the whole request again.

const orgId = z.string().min(1).max(200);

/** Plans a checkout can buy (Free is what an organization has without a subscription). */
export const PAID_PLANS = ['PRO', 'ENTERPRISE'] as const;
export type PaidPlan = (typeof PAID_PLANS)[number];

/** An absolute http(s) URL Stripe sends the customer back to. */
const returnUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL');

/** `POST /api/billing/checkout`. */
export const checkoutBody = z
  .object({ plan: z.enum(PAID_PLANS), successUrl: returnUrl, cancelUrl: returnUrl })
  .strict();
export const checkoutRequest = checkoutBody.extend({ orgId }).strict();

/** `POST /api/billing/portal`. */
export const portalBody = z.object({ returnUrl: returnUrl.optional() }).strict();
export const portalRequest = portalBody.extend({ orgId }).strict();

/** `GET /api/billing/subscription`. */
export const subscriptionRequest = z.object({ orgId }).strict();

/** `POST /api/billing/webhook`: the body exactly as Stripe sent it, and its signature header. */
export const webhookRequest = z
  .object({
    payload: z.string().max(1_048_576),
    signature: z.string().max(8192).optional(),
  })
  .strict();

export interface CheckoutReply {
  url: string;
  sessionId: string;
}

export interface PortalReply {
  url: string;
}

export interface SubscriptionReply {
  plan: 'FREE' | 'PRO' | 'ENTERPRISE';
  /** Stripe's subscription status (`active`, `past_due`, `canceled`, ...); `none` without one. */
  status: string;
  currentPeriodStart: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  /** When the first unpaid invoice failed; the plan drops to Free a grace period after it. */
  pastDueSince: string | null;
}

export interface WebhookReply {
  received: true;
  eventId: string;
  /** True when the event id was already stored: nothing was done again. */
  duplicate: boolean;
}

/** How `GET /api/billing/usage` groups the runs. */
export const USAGE_GROUPS = ['day', 'action', 'model'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

const instant = z.iso.datetime({ offset: true });

/** `GET /api/billing/usage?from=&to=&groupBy=`: runs that finished in [from, to). */
export const usageQuery = z
  .object({
    from: instant,
    to: instant,
    groupBy: z.enum(USAGE_GROUPS).default('day'),
  })
  .strict()
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), {
    message: 'from must be before to',
    path: ['from'],
  })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 400 * 86_400_000, {
    message: 'at most 400 days at once',
    path: ['to'],
  });
export const usageRequest = z
  .object({
    orgId,
    from: instant,
    to: instant,
    groupBy: z.enum(USAGE_GROUPS),
  })
  .strict();

/** One group's totals. */
export interface UsageRow {
  /** The day (YYYY-MM-DD, UTC), the action, or `provider/model`. */
  key: string;
  runs: number;
  tasks: number;
  tokensIn: number;
  tokensOut: number;
  /** US dollars, from the price table when the run was recorded. */
  costUsd: number;
}

export interface UsageReply {
  from: string;
  to: string;
  groupBy: UsageGroup;
  rows: UsageRow[];
  total: Omit<UsageRow, 'key'>;
}

/** The `billing.usage` event: what one finished run used (JSON on the BILLING stream). */
export interface RunUsage {
  runId: string;
  orgId: string;
  action: string;
  status: string;
  finishedAt: string;
  tokensIn: number;
  tokensOut: number;
  tasks: number;
  costMicros: number;
  byModel: {
    provider: string;
    model: string;
    tokensIn: number;
    tokensOut: number;
    tasks: number;
    costMicros: number;
  }[];
}

/** `bill.budget.reserve`: hold a run's estimated cost against its organization's budget. */
export const budgetReserveRequest = z
  .object({ orgId, runId: z.uuid(), action: z.string().min(1).max(200) })
  .strict();

/** `bill.budget.release`: give back a reservation whose run was never stored. */
export const budgetReleaseRequest = z.object({ orgId, runId: z.uuid() }).strict();

export interface BudgetReserveReply {
  /** False when the organization has no budget (nothing was reserved). */
  reserved: boolean;
  amountMicros: number;
}
