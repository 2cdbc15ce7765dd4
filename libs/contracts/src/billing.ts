/**
 * Subject of {@link TierChanged} events on the BILLING stream (`billing.<event>`):
 * published by billing, consumed by the gateway's `gateway-tiers` durable.
 */
export const TIER_CHANGED_SUBJECT = 'billing.tier.changed';
