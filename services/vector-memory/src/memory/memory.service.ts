import {
  DeleteMemorySession,
  ErrorCode,
  HeadyError,
  InsertVectors,
  MemoryStats,
  MemoryZone,
  SearchMemory,
  type SearchHit,
  parseRpcRequest,
} from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EMBEDDER } from '../embeddings/embedder.js';
import { type EmbeddingProvider } from '../embeddings/embeddings.js';
import { AnnIndex } from '../index/ann-index.js';
import { VectorsRepository } from './vectors.repository.js';
import { type Zone, type ZoneBasis, fitZones, zoneOf } from '../zones/zones.js';

/** Largest session searched exactly in DuckDB rather than by filtering the HNSW graph. */
export const EXACT_SESSION_MAX = 2000;

/**
 * recall@k of approximate hits against the exact top-k: the share of approximate hits
 * scoring at least the exact k-th score (less a float tolerance), so an index returning
 * a different one of several equally near neighbours is not counted wrong.
 */
export function recallOf(
  exact: { score: number }[],
  approx: { score: number }[],
  k: number,
): number {
  if (!exact.length) return 1;
  const kth = (exact[Math.min(k, exact.length) - 1] as { score: number }).score;
  const hits = approx.slice(0, k).filter((a) => a.score >= kth - 1e-5).length;
  return Math.min(1, hits / Math.min(k, exact.length));
}

export type { SearchHit };

/**
 * insertVector / similaritySearch / getZoneForQuery / getStats of DESIGN-REFERENCE, per
 * organization: DuckDB holds the truth, the HNSW index answers searches, zones come from
 * a PCA of the organization's vectors refitted as its memory grows.
 */
@Injectable()
export class MemoryService {
  private readonly zones = new Map<string, ZoneBasis>();
  private readonly probes = new Map<string, { at: number; recall: number; queries: number }>();

  constructor(
    @Inject(VectorsRepository) private readonly vectors: VectorsRepository,
    @Inject(AnnIndex) private readonly index: AnnIndex,
    @Inject(EMBEDDER) private readonly embedder: EmbeddingProvider,
  ) {}

  private checkDimensions(v: number[] | Float32Array, what: string): void {
    if (v.length !== this.vectors.dimensions)
      throw new HeadyError(
        ErrorCode.ValidationFailed,
        `${what} has ${v.length} dimensions; this deployment uses ${this.vectors.dimensions}`,
        { errors: [{ path: what, message: `expected ${this.vectors.dimensions} dimensions` }] },
      );
    // cosine similarity is undefined for the zero vector (scores would be NaN): an explicit
    // zero embedding, or a text the local provider finds nothing in (only punctuation), is refused
    if (!v.some((x) => x !== 0))
      throw new HeadyError(
        ErrorCode.ValidationFailed,
        `${what} is the zero vector, which has no direction to compare by cosine`,
        { errors: [{ path: what, message: 'must not be the zero vector' }] },
      );
  }

  private async embedOne(text: string): Promise<Float32Array> {
    const [v] = await this.embedder.embed([text]);
    if (!v) throw new HeadyError(ErrorCode.Unavailable, 'the embedding provider returned nothing');
    this.checkDimensions(v, 'the provider embedding');
    return v;
  }

  /** insertVector(content, embedding, metadata), many at once; resolves when committed. */
  async insert(req: unknown): Promise<{ ids: string[] }> {
    const r = parseRpcRequest(InsertVectors, req);
    r.items.forEach(
      (it, i) => it.embedding && this.checkDimensions(it.embedding, `items.${i}.embedding`),
    );
    const missing = r.items.filter((it) => !it.embedding);
    const embedded = missing.length
      ? await this.embedder.embed(missing.map((it) => it.content))
      : [];
    let next = 0;
    const now = Date.now();
    const rows = r.items.map((it) => {
      const e = it.embedding ? Float32Array.from(it.embedding) : (embedded[next++] as Float32Array);
      this.checkDimensions(e, 'the provider embedding');
      return {
        id: randomUUID(),
        orgId: r.orgId,
        ts: now,
        role: it.role ?? 'user',
        content: it.content,
        embedding: e,
        tokenCount: it.tokenCount ?? Math.ceil(it.content.length / 4),
        sessionId: it.sessionId ?? null,
        metadata: it.metadata ?? null,
      };
    });
    const labels = await this.vectors.insert(rows);
    this.index.add(
      r.orgId,
      rows.map((row, i) => ({
        label: labels[i] as bigint,
        sessionId: row.sessionId,
        embedding: row.embedding,
      })),
    );
    return { ids: rows.map((row) => row.id) };
  }

  /** similaritySearch(queryEmbedding, topK): cosine, by the HNSW index (exact for small sessions). */
  async search(req: unknown): Promise<{ results: SearchHit[]; exact: boolean }> {
    const r = parseRpcRequest(SearchMemory, req);
    if (r.embedding) this.checkDimensions(r.embedding, 'embedding');
    const q = r.embedding ? Float32Array.from(r.embedding) : await this.embedOne(r.query ?? '');
    const exact =
      r.sessionId !== undefined &&
      this.index.sessionSize(r.orgId, r.sessionId) <= EXACT_SESSION_MAX;
    const hits = exact
      ? await this.vectors.exactSearch(r.orgId, q, r.topK, r.sessionId)
      : this.index.search(r.orgId, q, r.topK, r.sessionId);
    const rows = await this.vectors.byLabels(
      r.orgId,
      hits.map((h) => h.label),
    );
    const results: SearchHit[] = [];
    for (const h of hits) {
      const row = rows.get(h.label);
      if (!row) continue; // deleted between the index and DuckDB reads
      results.push({
        id: row.id,
        score: h.score,
        content: row.content,
        role: row.role,
        sessionId: row.sessionId,
        ts: row.ts,
        metadata: row.metadata,
      });
    }
    return { results, exact };
  }

  /** getZoneForQuery(queryText): the octant of the query on the organization's three principal axes. */
  async zone(req: unknown): Promise<Zone & { basis: Omit<ZoneBasis, 'mean' | 'axes'> }> {
    const r = parseRpcRequest(MemoryZone, req);
    const basis = await this.basis(r.orgId);
    const q = await this.embedOne(r.query);
    const { mean: _m, axes: _a, ...about } = basis;
    return { ...zoneOf(basis, q), basis: about };
  }

  private async basis(org: string): Promise<ZoneBasis> {
    const { count } = await this.vectors.summary(org);
    if (count < 3)
      throw new HeadyError(
        ErrorCode.InsufficientData,
        `zones need at least 3 stored vectors; organization has ${count}`,
      );
    const current = this.zones.get(org);
    // refit when memory grew by a quarter since the last fit (or shrank below it)
    if (current && count <= current.fittedAtCount * 1.25 && count >= current.fittedAtCount * 0.75)
      return current;
    const sample: Float32Array[] = [];
    const every = Math.max(1, Math.floor(count / 4000));
    for await (const page of this.vectors.scan(org, every > 1 ? { sample: every } : {}))
      for (const row of page) sample.push(row.embedding);
    const basis = fitZones(sample, count);
    this.zones.set(org, basis);
    return basis;
  }

  /** getStats(): totals, sessions, time range and the index's health, with a recall probe. */
  async stats(req: unknown): Promise<Record<string, unknown>> {
    const r = parseRpcRequest(MemoryStats, req);
    const s = await this.vectors.summary(r.orgId);
    return {
      orgId: r.orgId,
      totalVectors: s.count,
      sessions: s.sessions,
      oldest: s.oldest === null ? null : new Date(s.oldest).toISOString(),
      newest: s.newest === null ? null : new Date(s.newest).toISOString(),
      dimensions: this.vectors.dimensions,
      provider: this.embedder.name,
      index: {
        ...this.index.status,
        organizationSize: this.index.size(r.orgId),
        inStep: this.index.size(r.orgId) === s.count,
        recallProbe: await this.probe(r.orgId),
      },
    };
  }

  /** recall@10 of the HNSW index against DuckDB's exact answer for stored vectors as queries (cached a minute). */
  async probe(
    org: string,
    queries = 10,
    k = 10,
  ): Promise<{ recallAt10: number | null; queries: number; at: string | null }> {
    const hit = this.probes.get(org);
    if (hit && Date.now() - hit.at < 60_000)
      return { recallAt10: hit.recall, queries: hit.queries, at: new Date(hit.at).toISOString() };
    const pool: Float32Array[] = [];
    for await (const page of this.vectors.scan(org, { pageSize: 2000 })) {
      for (
        let i = 0;
        i < page.length && pool.length < queries;
        i += Math.max(1, Math.floor(page.length / queries))
      )
        pool.push((page[i] as { embedding: Float32Array }).embedding);
      break;
    }
    if (!pool.length) return { recallAt10: null, queries: 0, at: null };
    let sum = 0;
    for (const q of pool) {
      sum += recallOf(await this.vectors.exactSearch(org, q, k), this.index.search(org, q, k), k);
    }
    const recall = sum / pool.length;
    this.probes.set(org, { at: Date.now(), recall, queries: pool.length });
    return { recallAt10: recall, queries: pool.length, at: new Date().toISOString() };
  }

  /** Forgets a session of an organization (DuckDB and the index). */
  async deleteSession(req: unknown): Promise<{ deleted: number }> {
    const r = parseRpcRequest(DeleteMemorySession, req);
    const labels = await this.vectors.deleteSession(r.orgId, r.sessionId);
    this.index.remove(r.orgId, labels);
    return { deleted: labels.length };
  }
}
