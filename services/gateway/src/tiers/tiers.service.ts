import { PermanentError } from '@heady/bus';
import { PLANS, type Plan } from '@heady/db';
import { LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { PlansRepository } from './plans.repository.js';
import { TierCacheRepository } from './tier-cache.repository.js';

const lookups = counter(
  'heady_gateway_tier_cache_total',
  'Plan lookups through the Redis tier cache, by outcome (hit, miss, error)',
  ['outcome'],
);

/** A plan change as billing announces it on `billing.tier.changed`. */
export interface TierChange {
  orgId: string;
  plan: string;
  changedAt: Date;
  reason: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Which plan limits an organization. The plan lives in PostgreSQL; the gateway enforces
 * the copy cached in Redis (filled from the key lookup on a miss, for the cache TTL), and
 * a billing tier change replaces both at once, so the next request has the new limit.
 */
@Injectable()
export class TiersService {
  constructor(
    @Inject(TierCacheRepository) private readonly cache: TierCacheRepository,
    @Inject(PlansRepository) private readonly plans: PlansRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** The organization's plan: the cached one, else `fromDb` (cached now). Redis down: `fromDb`. */
  async planOf(orgId: string, fromDb: Plan): Promise<Plan> {
    try {
      const cached = await this.cache.get(orgId);
      if (cached) {
        lookups.inc({ outcome: 'hit' });
        return cached;
      }
      lookups.inc({ outcome: 'miss' });
      this.cache
        .set(orgId, fromDb)
        .catch((err: unknown) => this.log.debug({ err }, 'could not cache a plan'));
    } catch {
      lookups.inc({ outcome: 'error' });
    }
    return fromDb;
  }

  /**
   * Applies a `billing.tier.changed` event: PostgreSQL first (an older change than the one
   * recorded is ignored), then the cache is set to whatever plan is now in force. A
   * malformed event or an unknown organization can never succeed: it goes to DLQ.
   */
  async apply(change: TierChange): Promise<{ plan: Plan; applied: boolean }> {
    const plan = change.plan.toUpperCase();
    if (!(PLANS as readonly string[]).includes(plan))
      throw new PermanentError(`unknown plan "${change.plan}"; plans: ${PLANS.join(', ')}`);
    if (!UUID.test(change.orgId))
      throw new PermanentError(`"${change.orgId}" is not an organization id`);
    const r = await this.plans.apply(change.orgId, plan as Plan, change.changedAt);
    if (!r) throw new PermanentError(`no organization ${change.orgId}`);
    // a failure here is retried (nak): the event is only done once the cache holds the plan
    await this.cache.set(change.orgId, r.plan);
    this.log.info(
      { orgId: change.orgId, plan: r.plan, applied: r.applied, reason: change.reason },
      r.applied
        ? `organization ${change.orgId} is now on ${r.plan}`
        : `ignored an older plan change for ${change.orgId} (${plan}); it stays on ${r.plan}`,
    );
    return r;
  }
}
