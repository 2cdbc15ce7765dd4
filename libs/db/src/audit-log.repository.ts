import { type Kysely } from 'kysely';
import { type Database } from './schema.js';

/** An audit record as stored in `audit_logs`. */
export interface AuditRecord {
  id: string;
  actor: string;
  action: string;
  target: string;
  status: string;
  details: Record<string, unknown>;
  timestamp: Date;
}

/**
 * The writes of `audit_logs`: the conductor's audit writer (events from the AUDIT stream)
 * and the operator CLI (`heady dlq redrive`, `heady replay`, `heady bans lift`) insert here,
 * so a row is written the same way whoever records it.
 */
export class AuditLogRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts once: a record whose id is already stored (a redelivery) changes nothing. */
  async insert(r: AuditRecord): Promise<void> {
    await this.insertMany([r]);
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
}
