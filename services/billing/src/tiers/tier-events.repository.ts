import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BusPublisher } from '@heady/bus';
import { TIER_CHANGED_SUBJECT, TierChangedSchema } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { type TierChange } from '../webhooks/billing-store.repository.js';

/** Publishes plan changes on `billing.tier.changed` (signed; the gateway's tier cache applies them). */
@Injectable()
export class TierEventsRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  /**
   * One signed `TierChanged` on the BILLING stream, waiting for JetStream's PubAck. Its
   * `Nats-Msg-Id` is the outbox row's id, so publishing one change again (after a crash
   * between the publish and its bookkeeping) is dropped by JetStream's duplicate window.
   */
  async publish(c: TierChange): Promise<void> {
    await this.bus.publish(
      TIER_CHANGED_SUBJECT,
      {
        schema: TierChangedSchema,
        message: create(TierChangedSchema, {
          orgId: c.orgId,
          plan: c.plan,
          previousPlan: c.previousPlan,
          changedAt: timestampFromDate(c.changedAt),
          reason: c.reason,
        }),
      },
      { msgId: c.id },
    );
  }
}
