import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** An audit record as stored in `audit_logs` and in the JSONL sink. */
export interface AuditRecord {
  id: string;
  actor: string;
  action: string;
  target: string;
  status: string;
  details: Record<string, unknown>;
  timestamp: Date;
}

@Injectable()
export class AuditRepository {
  private dirReady = new Map<string, Promise<unknown>>();

  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Inserts once: a redelivered audit event finds its row and changes nothing. */
  async insert(r: AuditRecord): Promise<void> {
    await this.db
      .insertInto('audit_logs')
      .values({ ...r, details: r.details })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  /** Inserts many in one statement; ids already stored (redeliveries) are skipped. */
  async insertMany(rs: readonly AuditRecord[]): Promise<void> {
    if (!rs.length) return;
    // one row per id: a batch can hold a message and its redelivery
    const unique = [...new Map(rs.map((r) => [r.id, r])).values()];
    await this.db
      .insertInto('audit_logs')
      .values(unique.map((r) => ({ ...r, details: r.details })))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
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
