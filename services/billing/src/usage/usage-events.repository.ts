import { BusPublisher } from '@heady/bus';
import { type RunUsage, USAGE_SUBJECT } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

/** Publishes `billing.usage` (signed JSON on the BILLING stream), one per run. */
@Injectable()
export class UsageEventsRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  /** Waits for JetStream's PubAck; `Nats-Msg-Id` `usage:<runId>` drops a second publish. */
  async publish(u: RunUsage): Promise<void> {
    await this.bus.publish(USAGE_SUBJECT, { json: u }, { msgId: `usage:${u.runId}` });
  }
}
