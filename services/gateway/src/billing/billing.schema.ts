import { USAGE_GROUPS, checkoutBody, portalBody, usageQuery } from '@heady/contracts';
import { z } from 'zod';

// The shapes of the billing routes: the bodies are billing's RPC requests without `orgId`
// (libs/contracts), checked at the door and again by billing; the replies are checked
// against these, so the OpenAPI document and the answers cannot drift apart.

export { checkoutBody, portalBody, usageQuery };

export const checkoutReply = z.object({
  url: z.string().describe('the Checkout page to send the customer to'),
  sessionId: z.string(),
});

export const portalReply = z.object({ url: z.string() });

const PLAN = z.enum(['FREE', 'PRO', 'ENTERPRISE']);

export const subscriptionReply = z.object({
  plan: PLAN.describe('the plan in force'),
  status: z.string().describe("Stripe's subscription status; `none` without a subscription"),
  currentPeriodStart: z.string().nullable(),
  currentPeriodEnd: z.string().nullable(),
  cancelAtPeriodEnd: z.boolean(),
  pastDueSince: z
    .string()
    .nullable()
    .describe('when the first unpaid invoice failed; the plan drops to Free a grace period after'),
});

/** The webhook's body as documented: a Stripe event (verified over its raw bytes). */
export const stripeEventBody = z
  .object({ id: z.string(), type: z.string(), created: z.number() })
  .loose()
  .describe('a Stripe event, exactly as Stripe sent it (Stripe-Signature covers the raw body)');

export const webhookReply = z.object({
  received: z.literal(true),
  eventId: z.string(),
  duplicate: z.boolean().describe('the event was already stored; nothing was done again'),
});

const usageTotals = {
  runs: z.number(),
  tasks: z.number(),
  tokensIn: z.number(),
  tokensOut: z.number(),
  costUsd: z.number().describe('US dollars, from the price table when each run was recorded'),
};

export const usageReply = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(USAGE_GROUPS),
  rows: z.array(
    z.object({
      key: z.string().describe('the day (YYYY-MM-DD, UTC), the action, or provider/model'),
      ...usageTotals,
    }),
  ),
  total: z.object(usageTotals),
});
