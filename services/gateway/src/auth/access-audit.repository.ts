import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BusPublisher } from '@heady/bus';
import { ACCESS_AUDIT_SUBJECT, AuditEventSchema } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** One access decision on an INTERNAL-or-higher route. */
export interface AccessDecision {
  actor: string;
  route: string;
  routeClass: string;
  clearance: string;
  allowed: boolean;
  reason: string;
}

/** Publishes access decisions on `audit.access` (AUDIT stream; the audit writer stores them). */
@Injectable()
export class AccessAuditRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async publish(d: AccessDecision): Promise<void> {
    const id = randomUUID();
    await this.bus.publish(
      ACCESS_AUDIT_SUBJECT,
      {
        schema: AuditEventSchema,
        message: create(AuditEventSchema, {
          id,
          actor: d.actor,
          action: 'ACCESS',
          target: d.route,
          status: d.allowed ? 'ALLOW' : 'DENY',
          details: { ...d },
          at: timestampFromDate(new Date()),
        }),
      },
      { msgId: `audit:${id}` },
    );
  }
}
