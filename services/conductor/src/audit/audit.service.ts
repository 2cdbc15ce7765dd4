import { AuditEventSchema, ROUTING_AUDIT_SUBJECT } from '@heady/contracts';
import { BusPublisher } from '@heady/bus';
import { type ConductorConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type AuditRecord, AuditRepository } from './audit.repository.js';

/** The routing decision the conductor made for one run. */
export interface RoutingDecision {
  runId: string;
  action: string;
  group: string;
  weight: number;
  layer: 'task-router';
  replayed: boolean;
}

/**
 * Audits conductor decisions: each record goes to the JSONL file (`conductor-audit.jsonl`)
 * and to the `AUDIT` stream (`audit.<kind>`), from which the audit writer fills `audit_logs`.
 */
@Injectable()
export class AuditService {
  constructor(
    @Inject(CONFIG) private readonly config: ConductorConfig,
    @Inject(AuditRepository) private readonly repo: AuditRepository,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
  ) {}

  async routingDecision(d: RoutingDecision): Promise<AuditRecord> {
    const record: AuditRecord = {
      id: randomUUID(),
      actor: this.config.instanceId,
      action: 'ROUTE',
      target: d.runId,
      status: 'OK',
      details: { ...d },
      timestamp: new Date(),
    };
    await Promise.all([
      this.repo.appendJsonl(this.config.audit.jsonlFile, record),
      this.bus.publish(
        ROUTING_AUDIT_SUBJECT,
        {
          schema: AuditEventSchema,
          message: create(AuditEventSchema, {
            id: record.id,
            actor: record.actor,
            action: record.action,
            target: record.target,
            status: record.status,
            details: record.details as JsonObject,
            at: timestampFromDate(record.timestamp),
          }),
        },
        { msgId: `audit:${record.id}` },
      ),
    ]);
    return record;
  }
}
