import 'reflect-metadata';
import { loadConductorConfig } from '@heady/config';
import { STREAM_SUBJECTS } from '@heady/contracts';
import { bootstrapService } from '@heady/runtime';
import { ConductorModule } from './app.module.js';
import { auditRecord } from './audit/audit-writer.controller.js';
import { AuditRepository } from './audit/audit.repository.js';

const config = loadConductorConfig();

await bootstrapService({
  config,
  module: (runtime) => ConductorModule.register(runtime, { auditWriter: config.audit.writer }),
  consumers: config.audit.writer
    ? [
        {
          stream: 'AUDIT',
          durable: 'audit-writer',
          filterSubject: STREAM_SUBJECTS.audit,
          ackWaitMs: 30_000,
          maxDeliver: 10,
          backoffMs: [500, 2_000, 10_000, 30_000],
          // many in flight, so the batcher fills its inserts (each acked after its commit)
          concurrency: 64,
        },
      ]
    : [],
  queueGroup: 'conductor',
  // a forged audit event the writer refuses becomes a row here, never another audit event
  rejectedAuditSink: (app) => {
    const repo = app.get(AuditRepository);
    return (e) => repo.insert(auditRecord(e));
  },
  http: { port: config.ops.port },
});
