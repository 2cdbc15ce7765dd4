import { AuditLogRepository, type AuditRecord, type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export type { AuditRecord };

/** Audit records in `audit_logs` (written as `AuditLogRepository` writes them) and in the JSONL sink. */
@Injectable()
export class AuditRepository {
  private dirReady = new Map<string, Promise<unknown>>();

  /** The `audit_logs` writes the operator CLI shares. */
  private readonly rows: AuditLogRepository;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.rows = new AuditLogRepository(db);
  }

  /** Inserts once: a redelivered audit event finds its row and changes nothing. */
  insert(r: AuditRecord): Promise<void> {
    return this.rows.insert(r);
  }

  /** Inserts many in one statement; ids already stored (redeliveries) are skipped. */
  insertMany(rs: readonly AuditRecord[]): Promise<void> {
    return this.rows.insertMany(rs);
  }

  /** Appends one JSON line; O_APPEND keeps concurrent lines whole. */
  async appendJsonl(file: string, r: AuditRecord): Promise<void> {
    let ready = this.dirReady.get(file);
    if (!ready) {
      ready = mkdir(dirname(file), { recursive: true });
      this.dirReady.set(file, ready);
    }
    await ready;
    await appendFile(file, `${JSON.stringify({ ...r, timestamp: r.timestamp.toISOString() })}\n`, {
      flag: 'a',
    });
  }
}
