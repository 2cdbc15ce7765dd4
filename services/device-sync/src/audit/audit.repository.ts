import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BusPublisher } from '@heady/bus';
import { AuditEventSchema, PRIVACY_AUDIT_SUBJECT } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** One privacy decision, as the audit trail keeps it (what changed, never the user's data). */
export interface PrivacyAudit {
  actor: string;
  action: string;
  /** `user:<id>` (the audit entry is about that user). */
  target: string;
  status: string;
  details: Record<string, string | number | boolean | null>;
}

/** Publishes privacy audit events on `audit.privacy`; the conductor's audit writer stores them. */
@Injectable()
export class PrivacyAuditRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async publish(a: PrivacyAudit): Promise<void> {
    const id = randomUUID();
    await this.bus.publish(
      PRIVACY_AUDIT_SUBJECT,
      {
        schema: AuditEventSchema,
        message: create(AuditEventSchema, {
          id,
          actor: a.actor,
          action: a.action,
          target: a.target,
          status: a.status,
          details: a.details,
          at: timestampFromDate(new Date()),
        }),
      },
      { msgId: `audit:${id}` },
    );
  }
}
