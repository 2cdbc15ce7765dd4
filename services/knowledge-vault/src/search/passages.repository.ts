import { type KnowledgeSource } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** A passage found by label, with its document's attribution. */
export interface PassageRow {
  label: bigint;
  documentId: string;
  source: KnowledgeSource;
  sourceId: string;
  title: string | null;
  text: string;
  ordinal: number;
}

/** A passage's vector, as the ANN index loads it. */
export interface VectorRow {
  label: bigint;
  source: KnowledgeSource;
  vector: number[];
}

/** BM25's parameters. */
export interface Bm25Params {
  k1: number;
  b: number;
}

/** The read side of the vault's passages: BM25 over the postings, vectors, attribution. */
@Injectable()
export class PassagesRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /**
   * The `n` best passages of an organization by Okapi BM25:
   * Σ over query lexemes t of idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|D|/avgdl)), with
   * idf(t) = ln(1 + (N − df + 0.5)/(df + 0.5)). The query goes through the same English
   * text search configuration as the passages (stemmed: "taxes" finds "taxed"); N, avgdl
   * and df come from the statistics kept with every write, so every replica agrees.
   */
  async bm25(
    orgId: string,
    query: string,
    n: number,
    p: Bm25Params,
    source?: KnowledgeSource,
  ): Promise<{ label: bigint; score: number }[]> {
    const bySource = source
      ? sql`AND EXISTS (SELECT 1 FROM embeddings e JOIN documents d ON d.id = e.document_id
              WHERE e.label = s.label AND d.source = ${source})`
      : sql``;
    const { rows } = await sql<{ label: string; score: number }>`
      WITH q AS (SELECT DISTINCT lexeme AS term FROM unnest(to_tsvector('english', ${query}))),
      c AS (
        SELECT passages::float8 AS n, total_length::float8 / greatest(passages, 1) AS avgdl
        FROM knowledge_corpus_stats WHERE org_id = ${orgId} AND passages > 0
      ),
      w AS (
        SELECT t.term, ln(1 + (c.n - t.df + 0.5) / (t.df + 0.5)) AS idf
        FROM knowledge_term_stats t, c
        WHERE t.org_id = ${orgId} AND t.term IN (SELECT term FROM q) AND t.df > 0
      ),
      s AS (
        SELECT p.label,
          sum(w.idf * p.tf * (${p.k1}::float8 + 1)
            / (p.tf + ${p.k1}::float8 * (1 - ${p.b}::float8 + ${p.b}::float8 * p.length / c.avgdl))) AS score
        FROM knowledge_terms p JOIN w ON w.term = p.term, c
        WHERE p.org_id = ${orgId}
        GROUP BY p.label
      )
      SELECT s.label::text AS label, s.score FROM s
      WHERE true ${bySource}
      ORDER BY s.score DESC, s.label
      LIMIT ${n}
    `.execute(this.db);
    return rows.map((r) => ({ label: BigInt(r.label), score: Number(r.score) }));
  }

  /** Passages by label within an organization (labels of other organizations find nothing). */
  async byLabels(orgId: string, labels: bigint[]): Promise<Map<bigint, PassageRow>> {
    const out = new Map<bigint, PassageRow>();
    if (!labels.length) return out;
    const rows = await this.db
      .selectFrom('embeddings as e')
      .innerJoin('documents as d', 'd.id', 'e.document_id')
      .select([
        sql<string>`e.label::text`.as('label'),
        'e.document_id',
        'd.source',
        'd.source_id',
        'd.title',
        'e.text',
        'e.ordinal',
      ])
      .where('e.org_id', '=', orgId)
      .where(sql<boolean>`e.label = ANY(${labels.map(String)}::bigint[])`)
      .execute();
    for (const r of rows)
      out.set(BigInt(r.label), {
        label: BigInt(r.label),
        documentId: r.document_id,
        source: r.source as KnowledgeSource,
        sourceId: r.source_id,
        title: r.title,
        text: r.text,
        ordinal: r.ordinal,
      });
    return out;
  }

  /** An organization's passage vectors with a label above `after`, in label order. */
  async vectorsAfter(orgId: string, after: bigint, limit = 2000): Promise<VectorRow[]> {
    const rows = await this.db
      .selectFrom('embeddings as e')
      .innerJoin('documents as d', 'd.id', 'e.document_id')
      .select([sql<string>`e.label::text`.as('label'), 'd.source', 'e.vector'])
      .where('e.org_id', '=', orgId)
      .where(sql<boolean>`e.label > ${String(after)}::bigint`)
      .orderBy('e.label')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      label: BigInt(r.label),
      source: r.source as KnowledgeSource,
      vector: r.vector,
    }));
  }

  /** An organization's passage count (BM25's N, also the ANN index's expected size). */
  async count(orgId: string): Promise<number> {
    const row = await this.db
      .selectFrom('knowledge_corpus_stats')
      .select('passages')
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return row ? Number(row.passages) : 0;
  }
}
