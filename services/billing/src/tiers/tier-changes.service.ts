import { type BillingConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { BillingStoreRepository, type TierChange } from '../webhooks/billing-store.repository.js';
import { TierEventsRepository } from './tier-events.repository.js';

const published = counter(
  'heady_billing_tier_changes_total',
  'Plan changes published on billing.tier.changed, by outcome (published, failed)',
  ['outcome'],
);

/**
 * Announces plan changes. Each is queued in `billing_tier_outbox` by the transaction that
 * decided it and published right after; a change whose publish failed (NATS away, a crash)
 * is published by the next sweep, which also drops subscriptions past their grace period.
 */
@Injectable()
export class TierChangesService {
  constructor(
    @Inject(BillingStoreRepository) private readonly store: BillingStoreRepository,
    @Inject(TierEventsRepository) private readonly events: TierEventsRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Publishes `changes` and marks each published; a failure is left for the next sweep. */
  async publish(changes: readonly TierChange[]): Promise<void> {
    for (const c of changes) {
      try {
        await this.events.publish(c);
        await this.store.markPublished(c.id);
        published.inc({ outcome: 'published' });
        this.log.info(
          { org_id: c.orgId, plan: c.plan, previous_plan: c.previousPlan, reason: c.reason },
          'plan changed',
        );
      } catch (err) {
        published.inc({ outcome: 'failed' });
        this.log.warn({ err, org_id: c.orgId }, 'plan change not published yet; the sweep retries');
      }
    }
  }

  /** One sweep: subscriptions past their grace period drop to Free; unpublished changes go out. */
  async sweep(now = new Date()): Promise<void> {
    await this.store.expireGrace(now, this.config.grace.ms);
    await this.publish(await this.store.pendingTierChanges());
  }
}
