import { type KnowledgeSource } from '@heady/contracts';
import { type Database, type Kysely, sql, type Transaction } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** A document as the vault stores it. */
export interface DocumentInit {
  orgId: string;
  source: KnowledgeSource;
  sourceId: string;
  title: string | null;
  content: string;
  contentHash: string;
  metadata: Record<string, unknown>;
}

/** One embedded passage to store. */
export interface PassageInit {
  ordinal: number;
  text: string;
  vector: Float32Array;
}

/** How the passages' vectors were made (recorded on each row). */
export interface EmbeddingInfo {
  provider: 'LOCAL' | 'CLOUD';
  model: string;
  dims: number;
}

/** A stored document's identity and what it was before a change. */
export interface DocumentRef {
  id: string;
  source: KnowledgeSource;
  sourceId: string;
  contentHash: string;
}

/** What {@link DocumentsRepository.replace} did. */
export type ReplaceOutcome =
  | { kind: 'duplicate'; documentId: string }
  | {
      kind: 'stored';
      documentId: string;
      /** Labels of the new passages (the ANN index's keys), in ordinal order. */
      labels: bigint[];
      /** Labels of the passages it replaced (empty for a new document). */
      removed: bigint[];
      created: boolean;
    };

/**
 * `documents`, `embeddings` (passages) and the BM25 statistics beside them. Every write of
 * an organization takes that organization's advisory lock for its transaction, so writes of
 * one organization are serialised: the statistics never race, and passage labels grow in
 * commit order (what lets a replica catch its ANN index up by "label > the last it saw").
 */
@Injectable()
export class DocumentsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Runs `fn` in a transaction holding `orgId`'s write lock. */
  async locked<T>(orgId: string, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`knowledge-vault:${orgId}`}, 0))`.execute(
        tx,
      );
      return fn(tx);
    });
  }

  /** The content hash of a stored document, or undefined. */
  async find(
    orgId: string,
    source: KnowledgeSource,
    sourceId: string,
    tx: Kysely<Database> = this.db,
  ): Promise<DocumentRef | undefined> {
    const row = await tx
      .selectFrom('documents')
      .select(['id', 'source', 'source_id', 'content_hash'])
      .where('org_id', '=', orgId)
      .where('source', '=', source)
      .where('source_id', '=', sourceId)
      .executeTakeFirst();
    return row && refOf(row);
  }

  /** A document by id within an organization. */
  async byId(
    orgId: string,
    id: string,
    tx: Kysely<Database> = this.db,
  ): Promise<DocumentRef | undefined> {
    const row = await tx
      .selectFrom('documents')
      .select(['id', 'source', 'source_id', 'content_hash'])
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && refOf(row);
  }

  /**
   * In `tx` (holding the organization's lock): writes the document and its passages, or —
   * when the stored one already has this content hash — nothing. A changed document's old
   * passages, postings and statistics are replaced in the same transaction, so a search sees
   * either the old passages or the new ones.
   */
  async replace(
    tx: Transaction<Database>,
    doc: DocumentInit,
    passages: PassageInit[],
    embedding: EmbeddingInfo,
  ): Promise<ReplaceOutcome> {
    const existing = await this.find(doc.orgId, doc.source, doc.sourceId, tx);
    if (existing?.contentHash === doc.contentHash)
      return { kind: 'duplicate', documentId: existing.id };
    const removed = existing ? await this.removePassages(tx, doc.orgId, existing.id) : [];
    const row = await tx
      .insertInto('documents')
      .values({
        org_id: doc.orgId,
        source: doc.source,
        source_id: doc.sourceId,
        title: doc.title,
        content: doc.content,
        content_hash: doc.contentHash,
        metadata: JSON.stringify(doc.metadata) as unknown as Record<string, unknown>,
      })
      .onConflict((oc) =>
        oc.columns(['org_id', 'source', 'source_id']).doUpdateSet((eb) => ({
          title: eb.ref('excluded.title'),
          content: eb.ref('excluded.content'),
          content_hash: eb.ref('excluded.content_hash'),
          metadata: eb.ref('excluded.metadata'),
          updated_at: sql`now()`,
        })),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    const labels = await this.insertPassages(tx, doc.orgId, row.id, passages, embedding);
    return { kind: 'stored', documentId: row.id, labels, removed, created: !existing };
  }

  private async insertPassages(
    tx: Transaction<Database>,
    orgId: string,
    documentId: string,
    passages: PassageInit[],
    e: EmbeddingInfo,
  ): Promise<bigint[]> {
    if (!passages.length) return [];
    const labels: bigint[] = [];
    for (let i = 0; i < passages.length; i += 200) {
      const rows = await tx
        .insertInto('embeddings')
        .values(
          passages.slice(i, i + 200).map((p) => ({
            org_id: orgId,
            document_id: documentId,
            ordinal: p.ordinal,
            text: p.text,
            provider: e.provider,
            model: e.model,
            dims: e.dims,
            vector: JSON.stringify(Array.from(p.vector, (x) => Math.fround(x))),
          })),
        )
        .returning(['label', 'ordinal'])
        .execute();
      for (const r of rows.sort((a, b) => a.ordinal - b.ordinal)) labels.push(BigInt(r.label));
    }
    // BM25: postings from PostgreSQL's English text search (stemmed lexemes, stop words
    // out), each passage's length in lexemes, then the organization's statistics
    await sql`
      WITH t AS (
        SELECT e.label, x.lexeme, cardinality(x.positions) AS tf
        FROM embeddings e, unnest(to_tsvector('english', e.text)) x
        WHERE e.document_id = ${documentId}
      ),
      len AS (SELECT label, sum(tf)::int AS l FROM t GROUP BY label),
      upd AS (UPDATE embeddings e SET length = len.l FROM len WHERE e.label = len.label)
      INSERT INTO knowledge_terms (org_id, term, label, tf, length)
      SELECT ${orgId}, t.lexeme, t.label, t.tf, len.l FROM t JOIN len USING (label)
    `.execute(tx);
    await sql`
      INSERT INTO knowledge_term_stats (org_id, term, df)
      SELECT ${orgId}, p.term, count(*)
      FROM knowledge_terms p JOIN embeddings e ON e.label = p.label
      WHERE e.document_id = ${documentId} AND p.org_id = ${orgId}
      GROUP BY p.term
      ON CONFLICT (org_id, term) DO UPDATE SET df = knowledge_term_stats.df + excluded.df
    `.execute(tx);
    await sql`
      INSERT INTO knowledge_corpus_stats (org_id, passages, total_length)
      SELECT ${orgId}, count(*), coalesce(sum(length), 0) FROM embeddings WHERE document_id = ${documentId}
      ON CONFLICT (org_id) DO UPDATE SET
        passages = knowledge_corpus_stats.passages + excluded.passages,
        total_length = knowledge_corpus_stats.total_length + excluded.total_length
    `.execute(tx);
    return labels;
  }

  /** Removes a document's passages and takes them out of the statistics; their labels. */
  private async removePassages(
    tx: Transaction<Database>,
    orgId: string,
    documentId: string,
  ): Promise<bigint[]> {
    await sql`
      UPDATE knowledge_term_stats s SET df = s.df - c.n
      FROM (
        SELECT p.term, count(*) AS n
        FROM knowledge_terms p JOIN embeddings e ON e.label = p.label
        WHERE e.document_id = ${documentId} AND p.org_id = ${orgId}
        GROUP BY p.term
      ) c
      WHERE s.org_id = ${orgId} AND s.term = c.term
    `.execute(tx);
    await sql`
      UPDATE knowledge_corpus_stats c SET
        passages = c.passages - d.n, total_length = c.total_length - d.l
      FROM (SELECT count(*) AS n, coalesce(sum(length), 0) AS l FROM embeddings WHERE document_id = ${documentId}) d
      WHERE c.org_id = ${orgId}
    `.execute(tx);
    const gone = await tx
      .deleteFrom('embeddings')
      .where('document_id', '=', documentId)
      .where('org_id', '=', orgId)
      .returning('label')
      .execute();
    return gone.map((r) => BigInt(r.label));
  }

  /** In `tx` (holding the lock): deletes a document and its passages; the passages' labels. */
  async remove(tx: Transaction<Database>, orgId: string, documentId: string): Promise<bigint[]> {
    const labels = await this.removePassages(tx, orgId, documentId);
    await tx
      .deleteFrom('documents')
      .where('id', '=', documentId)
      .where('org_id', '=', orgId)
      .execute();
    return labels;
  }
}

function refOf(r: {
  id: string;
  source: string;
  source_id: string;
  content_hash: string;
}): DocumentRef {
  return {
    id: r.id,
    source: r.source as KnowledgeSource,
    sourceId: r.source_id,
    contentHash: r.content_hash,
  };
}
