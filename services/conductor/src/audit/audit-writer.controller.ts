import { type AuditEvent, STREAM_SUBJECTS } from '@heady/contracts';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { AuditBatcher } from './audit-batcher.js';
import { type AuditRecord } from './audit.repository.js';

/**
 * Durable consumer `audit-writer`: copies every `audit.>` event into `audit_logs`, once.
 * The events it handles at once go in one insert; each is acked after that insert commits.
 */
@Controller()
export class AuditWriterController {
  constructor(@Inject(AuditBatcher) private readonly batcher: AuditBatcher) {}

  @EventPattern(STREAM_SUBJECTS.audit)
  async write(@Payload() e: AuditEvent): Promise<void> {
    await this.batcher.write(auditRecord(e));
  }
}

/** The `audit_logs` row of an audit event. */
export function auditRecord(e: AuditEvent): AuditRecord {
  return {
    id: e.id,
    actor: e.actor,
    action: e.action,
    target: e.target,
    status: e.status,
    details: e.details ?? {},
    timestamp: e.at ? timestampDate(e.at) : new Date(),
  };
}
