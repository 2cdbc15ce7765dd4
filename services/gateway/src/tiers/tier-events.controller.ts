import { timestampDate } from '@bufbuild/protobuf/wkt';
import { TIER_CHANGED_SUBJECT, type TierChanged } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TiersService } from './tiers.service.js';

/** Durable consumer `gateway-tiers`: billing's plan changes, applied once for all replicas. */
@Controller()
export class TierEventsController {
  constructor(@Inject(TiersService) private readonly tiers: TiersService) {}

  @EventPattern(TIER_CHANGED_SUBJECT)
  async changed(@Payload() e: TierChanged): Promise<void> {
    await this.tiers.apply({
      orgId: e.orgId,
      plan: e.plan,
      changedAt: e.changedAt ? timestampDate(e.changedAt) : new Date(),
      reason: e.reason,
    });
  }
}
