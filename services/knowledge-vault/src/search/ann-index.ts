import { type KnowledgeSource } from '@heady/contracts';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { type PassagesRepository } from './passages.repository.js';

/** HNSW parameters (usearch): graph degree and the candidate lists at build and query time. */
export interface HnswParams {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/** One organization's graph, the source of each key, and the largest label it holds. */
class OrgGraph {
  readonly sources = new Map<bigint, KnowledgeSource>();
  maxLabel = 0n;
  /** When the graph's size was last compared with PostgreSQL's passage count (ms). */
  checkedAt = 0;
  constructor(readonly index: Index) {}
}

/** An approximate neighbour: a passage label and its cosine similarity. */
export interface Neighbour {
  label: bigint;
  score: number;
}

/**
 * The vault's approximate nearest-neighbour index: one in-process usearch HNSW graph per
 * organization (a search never walks another organization's vectors), cosine metric, keyed
 * by the passage's label. PostgreSQL is the truth and the graphs are views of it: an
 * organization's graph is built from PostgreSQL the first time it is needed, and before
 * every search it catches up with the passages written since (by any replica: labels grow
 * in commit order within an organization). Passages removed by another replica are
 * filtered out when the hits are read back from PostgreSQL; once the graph holds more than
 * a tenth more keys than PostgreSQL has passages, it is rebuilt.
 */
export class AnnIndex {
  private readonly orgs = new Map<string, OrgGraph>();

  constructor(
    private readonly passages: PassagesRepository,
    readonly dimensions: number,
    private readonly params: HnswParams,
  ) {}

  private create(): Index {
    return new Index({
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      dimensions: this.dimensions,
      connectivity: this.params.connectivity,
      expansion_add: this.params.expansionAdd,
      expansion_search: this.params.expansionSearch,
      multi: false,
    });
  }

  private graph(orgId: string): OrgGraph {
    let g = this.orgs.get(orgId);
    if (!g) {
      g = new OrgGraph(this.create());
      this.orgs.set(orgId, g);
    }
    return g;
  }

  /**
   * Adds what PostgreSQL holds above the graph's largest label (at most once a second also
   * compares sizes, and rebuilds a graph that holds many passages removed elsewhere).
   * Concurrent catch-ups are safe: {@link insert} is synchronous and skips keys it has.
   */
  private async catchUp(orgId: string): Promise<OrgGraph> {
    let g = this.graph(orgId);
    for (;;) {
      const rows = await this.passages.vectorsAfter(orgId, g.maxLabel);
      if (!rows.length) break;
      this.insert(g, rows);
      if (rows.length < 2000) break;
    }
    if (Date.now() - g.checkedAt > 1000) {
      g.checkedAt = Date.now();
      const expected = await this.passages.count(orgId);
      if (g.sources.size > expected * 1.1 + 10) {
        await this.rebuild(orgId);
        g = this.graph(orgId);
      }
    }
    return g;
  }

  private insert(
    g: OrgGraph,
    rows: { label: bigint; source: KnowledgeSource; vector: ArrayLike<number> }[],
  ): void {
    const fresh = rows.filter((r) => !g.sources.has(r.label));
    if (fresh.length) {
      g.index.add(
        new BigUint64Array(fresh.map((r) => r.label)),
        fresh.map((r) => Float32Array.from(r.vector)),
      );
      for (const r of fresh) g.sources.set(r.label, r.source);
    }
    for (const r of rows) if (r.label > g.maxLabel) g.maxLabel = r.label;
  }

  /** Builds an organization's graph again from PostgreSQL. */
  async rebuild(orgId: string): Promise<void> {
    const g = new OrgGraph(this.create());
    this.orgs.set(orgId, g);
    for (;;) {
      const rows = await this.passages.vectorsAfter(orgId, g.maxLabel);
      if (!rows.length) break;
      this.insert(g, rows);
    }
  }

  /** Adds committed passages of this replica's own writes, and removes the ones it replaced. */
  apply(
    orgId: string,
    added: { label: bigint; source: KnowledgeSource; vector: Float32Array }[],
    removed: bigint[],
  ): Promise<void> {
    // anything committed before these by other replicas comes first (then maxLabel is honest)
    return this.catchUp(orgId).then((g) => {
      this.insert(g, added);
      const gone = removed.filter((l) => g.sources.has(l));
      if (gone.length) {
        g.index.remove(new BigUint64Array(gone));
        for (const l of gone) g.sources.delete(l);
      }
    });
  }

  /**
   * The approximate top `k` by cosine, after catching up with PostgreSQL. With a source,
   * keeps only that source's passages, widening the candidate list until `k` are found or
   * the graph is exhausted.
   */
  async search(
    orgId: string,
    query: Float32Array,
    k: number,
    source?: KnowledgeSource,
  ): Promise<Neighbour[]> {
    const g = await this.catchUp(orgId);
    if (!g.sources.size) return [];
    let want = source ? k * 4 : k;
    for (;;) {
      const total = g.index.size();
      const m = g.index.search(query, Math.min(want, total), 0);
      const out: Neighbour[] = [];
      for (let i = 0; i < m.keys.length && out.length < k; i++) {
        const label = m.keys[i] as bigint;
        const s = g.sources.get(label);
        if (s === undefined || (source && s !== source)) continue;
        out.push({ label, score: 1 - (m.distances[i] as number) });
      }
      if (out.length >= k || want >= total) return out;
      want *= 4;
    }
  }

  /** Keys in an organization's graph. */
  size(orgId: string): number {
    return this.orgs.get(orgId)?.sources.size ?? 0;
  }
}

/** The exact top `k` by cosine over every vector given (the ANN index's reference answer). */
export function exactTopK(
  rows: { label: bigint; vector: ArrayLike<number> }[],
  query: Float32Array,
  k: number,
): Neighbour[] {
  let qn = 0;
  for (const x of query) qn += x * x;
  qn = Math.sqrt(qn) || 1;
  const scored = rows.map((r) => {
    let dot = 0;
    let n = 0;
    for (let i = 0; i < query.length; i++) {
      const v = r.vector[i] as number;
      dot += v * (query[i] as number);
      n += v * v;
    }
    return { label: r.label, score: dot / (qn * (Math.sqrt(n) || 1)) };
  });
  return scored.sort((a, b) => b.score - a.score).slice(0, k);
}
