import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BusPublisher } from '@heady/bus';
import { AuditEventSchema, BAN_AUDIT_SUBJECT, type BanRecord } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

/** Publishes each new auto-ban with its evidence on `audit.ban` (AUDIT stream → `audit_logs`). */
@Injectable()
export class BanAuditRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async publish(ban: BanRecord): Promise<void> {
    // one ban per subject and ban time: a retried publish is dropped by the duplicate window
    const id = `ban:${ban.subject}:${ban.bannedAt}`;
    await this.bus.publish(
      BAN_AUDIT_SUBJECT,
      {
        schema: AuditEventSchema,
        message: create(AuditEventSchema, {
          id: crypto.randomUUID(),
          actor: 'gateway',
          action: 'BAN',
          target: ban.subject,
          status: 'BANNED',
          details: {
            ...ban,
            firstAt: new Date(ban.firstAt).toISOString(),
            lastAt: new Date(ban.lastAt).toISOString(),
            bannedAt: new Date(ban.bannedAt).toISOString(),
            until: new Date(ban.until).toISOString(),
          },
          at: timestampFromDate(new Date(ban.bannedAt)),
        }),
      },
      { msgId: id },
    );
  }
}
