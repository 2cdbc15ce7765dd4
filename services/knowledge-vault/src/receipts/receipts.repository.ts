import {
  type KnowledgeReceipt,
  type KnowledgeSource,
  type ReceiptOperation,
  type ReceiptReason,
} from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** A receipt to write. */
export interface ReceiptInit {
  orgId: string;
  operation: ReceiptOperation;
  source: KnowledgeSource;
  sourceId: string | null;
  documentId: string | null;
  stored: boolean;
  reason?: ReceiptReason | null;
  details?: Record<string, unknown>;
}

/** What a page of receipts is filtered by. */
export interface ReceiptFilter {
  orgId: string;
  source?: KnowledgeSource | undefined;
  since?: string | undefined;
  documentId?: string | undefined;
  limit: number;
  /** Microseconds since the epoch and id of the last receipt of the page before. */
  after?: { us: string; id: string } | undefined;
}

/** A receipt row with the position the next page starts after. */
export interface ReceiptRow extends KnowledgeReceipt {
  us: string;
}

/** `memory_receipts`: written by the vault, one per INGEST, EMBED, STORE and DROP. */
@Injectable()
export class ReceiptsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Writes receipts (in `tx` when given, so they commit with what they speak of), in order. */
  async write(receipts: ReceiptInit[], tx: Kysely<Database> = this.db): Promise<ReceiptRow[]> {
    if (!receipts.length) return [];
    // one row at a time: clock_timestamp() then orders them as they were written
    const out: ReceiptRow[] = [];
    for (const r of receipts) {
      const row = await tx
        .insertInto('memory_receipts')
        .values({
          org_id: r.orgId,
          operation: r.operation,
          source: r.source,
          source_id: r.sourceId,
          document_id: r.documentId,
          stored: r.stored,
          reason: r.reason ?? null,
          details: JSON.stringify(r.details ?? {}) as unknown as Record<string, unknown>,
        })
        .returning([...COLUMNS])
        .executeTakeFirstOrThrow();
      out.push(toReceipt(row));
    }
    return out;
  }

  /** One page of an organization's receipts, oldest first. */
  async list(f: ReceiptFilter): Promise<ReceiptRow[]> {
    let q = this.db
      .selectFrom('memory_receipts')
      .select([...COLUMNS])
      .where('org_id', '=', f.orgId);
    if (f.source) q = q.where('source', '=', f.source);
    if (f.documentId) q = q.where('document_id', '=', f.documentId);
    if (f.since) q = q.where('created_at', '>=', new Date(f.since));
    if (f.after) {
      const at = sql<Date>`timestamptz 'epoch' + ${f.after.us}::bigint * interval '1 microsecond'`;
      q = q.where(sql<boolean>`(created_at, id) > (${at}, ${f.after.id}::uuid)`);
    }
    const rows = await q.orderBy('created_at').orderBy('id').limit(f.limit).execute();
    return rows.map(toReceipt);
  }
}

const COLUMNS = [
  'id',
  'operation',
  'source',
  'source_id',
  'document_id',
  'stored',
  'reason',
  'details',
  'created_at',
  sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`.as('us'),
] as const;

function toReceipt(r: {
  id: string;
  operation: string;
  source: string;
  source_id: string | null;
  document_id: string | null;
  stored: boolean;
  reason: string | null;
  details: Record<string, unknown>;
  created_at: Date;
  us: string;
}): ReceiptRow {
  return {
    id: r.id,
    operation: r.operation as ReceiptOperation,
    source: r.source as KnowledgeSource,
    sourceId: r.source_id,
    documentId: r.document_id,
    stored: r.stored,
    reason: r.reason,
    details: r.details,
    createdAt: r.created_at.toISOString(),
    us: r.us,
  };
}
