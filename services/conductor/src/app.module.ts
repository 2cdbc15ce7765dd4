import { type DynamicModule, Module } from '@nestjs/common';
import { AuditWriterController } from './audit/audit-writer.controller.js';
import { AuditBatcher } from './audit/audit-batcher.js';
import { AuditRepository } from './audit/audit.repository.js';
import { AuditService } from './audit/audit.service.js';
import { DlqGauge } from './audit/dlq-gauge.js';
import { ConductorHealthController } from './routing/conductor-health.controller.js';
import { RoutingRepository } from './routing/routing.repository.js';
import { RoutingService } from './routing/routing.service.js';
import { BudgetsRepository } from './runs/budgets.repository.js';
import { RunsController } from './runs/runs.controller.js';
import { RunsRepository } from './runs/runs.repository.js';
import { RunsService } from './runs/runs.service.js';

/** The conductor: routing table, run admission, routing audit (JSONL + AUDIT → audit_logs). */
@Module({})
export class ConductorModule {
  static register(runtime: DynamicModule, opts: { auditWriter: boolean }): DynamicModule {
    return {
      module: ConductorModule,
      imports: [runtime],
      controllers: [
        RunsController,
        ConductorHealthController,
        ...(opts.auditWriter ? [AuditWriterController] : []),
      ],
      providers: [
        RoutingRepository,
        RoutingService,
        RunsRepository,
        RunsService,
        BudgetsRepository,
        AuditRepository,
        AuditBatcher,
        AuditService,
        ...(opts.auditWriter ? [DlqGauge] : []),
      ],
    };
  }
}
