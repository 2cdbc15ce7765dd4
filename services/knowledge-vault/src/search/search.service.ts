import { type KnowledgeVaultConfig } from '@heady/config';
import {
  type KnowledgeHit,
  type KnowledgeSource,
  type SearchKnowledgeReply,
  type SearchMode,
} from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { EMBEDDER, type PassageEmbedder } from '../embeddings/embedder.js';
import { AnnIndex } from './ann-index.js';
import { reciprocalRankFusion, relativeScoreFusion } from './fusion.js';
import { PassagesRepository, type PassageRow } from './passages.repository.js';

/** Candidates each list gives to fusion: enough for rank fusion to reorder the top k. */
export function candidatesFor(k: number): number {
  return Math.max(50, 4 * k);
}

/**
 * Search of an organization's passages: lexical (BM25 in PostgreSQL), vector (the HNSW
 * index over the passage embeddings) or hybrid (both, fused by relative score or by
 * reciprocal rank, as configured).
 */
@Injectable()
export class SearchService {
  constructor(
    @Inject(CONFIG) private readonly config: KnowledgeVaultConfig,
    @Inject(PassagesRepository) private readonly passages: PassagesRepository,
    @Inject(AnnIndex) private readonly index: AnnIndex,
    @Inject(EMBEDDER) private readonly embedder: PassageEmbedder,
  ) {}

  async search(r: {
    orgId: string;
    q: string;
    k: number;
    mode: SearchMode;
    source?: KnowledgeSource | undefined;
  }): Promise<SearchKnowledgeReply> {
    const n = r.mode === 'hybrid' ? candidatesFor(r.k) : r.k;
    const v = this.config.vault;
    // both lists at once: BM25 runs in PostgreSQL while the query is embedded and the graph searched
    const [lexical, vector] = await Promise.all([
      r.mode === 'vector' ? [] : this.passages.bm25(r.orgId, r.q, n, v.bm25, r.source),
      r.mode === 'lexical' ? [] : this.nearest(r.orgId, r.q, n, r.source),
    ]);
    const ranked =
      r.mode !== 'hybrid'
        ? (r.mode === 'lexical' ? lexical : vector).map((h) => ({
            label: h.label,
            score: h.score,
            lexicalRank: null,
            vectorRank: null,
          }))
        : v.fusion === 'rrf'
          ? reciprocalRankFusion(lexical, vector, v.rrfK)
          : relativeScoreFusion(lexical, vector, v.alpha);
    // read back more than k: a passage removed since the index saw it is skipped
    const wanted = ranked.slice(0, r.k + 10);
    const rows = await this.passages.byLabels(
      r.orgId,
      wanted.map((h) => h.label),
    );
    const results: KnowledgeHit[] = [];
    for (const h of wanted) {
      const row = rows.get(h.label);
      if (!row) continue;
      results.push(hitOf(row, h.score, r.mode === 'hybrid' ? h : undefined));
      if (results.length === r.k) break;
    }
    return { mode: r.mode, results };
  }

  private async nearest(
    orgId: string,
    q: string,
    n: number,
    source: KnowledgeSource | undefined,
  ): Promise<{ label: bigint; score: number }[]> {
    const [vector] = await this.embedder.embed([q]);
    return this.index.search(orgId, vector as Float32Array, n, source);
  }
}

function hitOf(
  row: PassageRow,
  score: number,
  ranks?: { lexicalRank: number | null; vectorRank: number | null },
): KnowledgeHit {
  return {
    documentId: row.documentId,
    source: row.source,
    sourceId: row.sourceId,
    title: row.title,
    text: row.text,
    ordinal: row.ordinal,
    score,
    ...(ranks ? { lexicalRank: ranks.lexicalRank, vectorRank: ranks.vectorRank } : {}),
  };
}
