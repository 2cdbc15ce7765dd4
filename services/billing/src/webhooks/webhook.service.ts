import { randomUUID } from 'node:crypto';
import { type BillingConfig } from '@heady/config';
import {
  type Plan,
  type RpcHandled,
  type RpcReply,
  type BillingWebhook,
  isHeadyError,
} from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import type Stripe from 'stripe';
import { StripeRepository } from '../stripe/stripe.repository.js';
import { TierChangesService } from '../tiers/tier-changes.service.js';
import { BillingStoreRepository, type EventApplication } from './billing-store.repository.js';
import { factsOf } from './stripe-facts.js';
import { decide } from './subscription-state.js';

const webhooks = counter(
  'heady_billing_webhooks_total',
  'Stripe webhooks received, by outcome (applied, stale, ignored, duplicate, rejected)',
  ['outcome'],
);

/** The audit action of a Stripe webhook (`audit_logs.action`). */
export const WEBHOOK_AUDIT_ACTION = 'STRIPE_WEBHOOK';

/**
 * Stripe's webhooks: verified with the SDK over the raw body, stored once by event id,
 * applied in order (see `decide`), audited whether accepted or refused, and announced as
 * `billing.tier.changed` when the plan in force changes.
 */
@Injectable()
export class WebhookService {
  constructor(
    @Inject(StripeRepository) private readonly stripe: StripeRepository,
    @Inject(BillingStoreRepository) private readonly store: BillingStoreRepository,
    @Inject(TierChangesService) private readonly tiers: TierChangesService,
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  private planOfPrice = (priceId: string): Plan | undefined => {
    const { PRO, ENTERPRISE } = this.config.stripe.prices;
    return priceId === PRO ? 'PRO' : priceId === ENTERPRISE ? 'ENTERPRISE' : undefined;
  };

  /** Handles one webhook delivery. @throws WebhookSignatureInvalidError (nothing stored but the audit row). */
  async handle(req: RpcHandled<typeof BillingWebhook>): Promise<RpcReply<typeof BillingWebhook>> {
    let event: Stripe.Event;
    try {
      event = this.stripe.verify(req.payload, req.signature);
    } catch (e) {
      webhooks.inc({ outcome: 'rejected' });
      await this.store.audit({
        id: randomUUID(),
        actor: 'stripe',
        action: WEBHOOK_AUDIT_ACTION,
        target: 'unverified',
        status: 'REJECTED',
        details: {
          verification: 'failed',
          reason: isHeadyError(e) ? (e.details?.reason ?? e.message) : String(e),
          signaturePresent: req.signature !== undefined,
          bytes: req.payload.length,
        },
        timestamp: new Date(),
      });
      throw e;
    }
    const r = await this.apply(event);
    webhooks.inc({ outcome: r.duplicate ? 'duplicate' : r.outcome });
    await this.store.audit({
      // one audit row per delivery: a replayed event is audited as the duplicate it is
      id: randomUUID(),
      actor: 'stripe',
      action: WEBHOOK_AUDIT_ACTION,
      target: event.id,
      status: 'VERIFIED',
      details: { verification: 'passed', type: event.type, outcome: r.outcome, orgId: r.orgId },
      timestamp: new Date(),
    });
    return { received: true, eventId: event.id, duplicate: r.duplicate };
  }

  /** Stores and applies a verified event (also `heady billing replay`'s way back in). */
  async apply(
    event: Stripe.Event,
  ): Promise<{ duplicate: boolean; outcome: string; orgId: string | null }> {
    const facts = factsOf(event, this.planOfPrice);
    const orgId =
      facts.orgId ??
      (facts.customerId ? await this.store.orgOfCustomer(facts.customerId) : undefined);
    const now = new Date();
    const ev = { id: event.id, created: new Date(event.created * 1000) };
    const fact = facts.fact;
    const app: EventApplication = {
      orgId,
      now,
      ...(facts.checkout ? { link: { customerId: facts.checkout.customerId } } : {}),
      ...(fact?.kind === 'customer-deleted' ? { customerDeleted: true } : {}),
      ...(fact && orgId
        ? { decide: (current) => decide(current, orgId, fact, ev, now, this.config.grace.ms) }
        : {}),
    };
    const r = await this.store.record(
      {
        id: event.id,
        type: event.type,
        created: ev.created,
        livemode: event.livemode,
        payload: event as unknown as Record<string, unknown>,
      },
      app,
    );
    if (r.tierChange) await this.tiers.publish([r.tierChange]);
    this.log.info(
      { event_id: event.id, type: event.type, outcome: r.outcome, org_id: orgId },
      'stripe event',
    );
    return { duplicate: r.duplicate, outcome: r.outcome, orgId: orgId ?? null };
  }
}
