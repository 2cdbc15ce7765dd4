import { type AuditEvent } from '@heady/contracts';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { AuditRepository } from './audit.repository.js';

/** Durable consumer `audit-writer`: copies every `audit.>` event into `audit_logs`, once. */
@Controller()
export class AuditWriterController {
  constructor(@Inject(AuditRepository) private readonly repo: AuditRepository) {}

  @EventPattern('audit.>')
  async write(@Payload() e: AuditEvent): Promise<void> {
    await this.repo.insert({
      id: e.id,
      actor: e.actor,
      action: e.action,
      target: e.target,
      status: e.status,
      details: e.details ?? {},
      timestamp: e.at ? timestampDate(e.at) : new Date(),
    });
  }
}
