// npm run bench:memory — vector memory on one process: inserts/s into DuckDB + HNSW, exact
// DuckDB top-10 QPS, and HNSW QPS at each search breadth (ef) with its recall@10 against
// the exact answer, all in the same run; resident memory after loading.
//   --n 100000 --dim 384 --queries 200   the clustered set (see services/vector-memory/src/evaluation/datasets.ts)
//   --sotu                                also the State of the Union passages (local embeddings)
//   --million                             also load 1,000,000 vectors and report resident memory
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AnnIndex } from '../services/vector-memory/dist/index/ann-index.js';
import { clustered, sotuPassages } from '../services/vector-memory/dist/evaluation/datasets.js';
import { LocalHashEmbedder } from '../services/vector-memory/dist/embeddings/embeddings.js';
import { MemoryService, recallOf } from '../services/vector-memory/dist/memory/memory.service.js';
import { VectorsRepository } from '../services/vector-memory/dist/memory/vectors.repository.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '200' },
    sotu: { type: 'boolean', default: false },
    million: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const DIM = Number(values.dim);
const Q = Number(values.queries);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mib = () => `${fmt(process.memoryUsage().rss / 2 ** 20)} MiB`;
const say = (s) => process.stdout.write(`${s}\n`);
const HNSW = { connectivity: 32, expansionAdd: 256 };

async function load(dir, org, vectors, texts) {
  const store = await VectorsRepository.open(join(dir, 'memory.duckdb'), DIM);
  const index = new AnnIndex(store, join(dir, 'hnsw'), { ...HNSW, expansionSearch: 64 });
  await index.open();
  const service = new MemoryService(store, index, new LocalHashEmbedder(DIM));
  const t = performance.now();
  for (let i = 0; i < vectors.length; i += 1000)
    await service.insert({
      orgId: org,
      items: vectors.slice(i, i + 1000).map((v, j) => ({
        content: texts?.[i + j] ?? `vector ${i + j}`,
        embedding: Array.from(v),
      })),
    });
  const s = (performance.now() - t) / 1000;
  index.saveAll();
  return { store, index, service, seconds: s };
}

async function measure(name, vectors, queries, texts) {
  const dir = mkdtempSync(join(tmpdir(), 'heady-bench-memory-'));
  try {
    say(`\n== ${name}: ${fmt(vectors.length)} × ${DIM}, ${queries.length} queries`);
    const m = await load(dir, 'bench', vectors, texts);
    say(
      `insert (batches of 1000, DuckDB commit + HNSW add, M=${HNSW.connectivity} efConstruction=${HNSW.expansionAdd}): ${fmt(vectors.length / m.seconds)} vectors/s; resident ${mib()}`,
    );
    // one at a time, as the RPC does for a single message
    let t = performance.now();
    for (let i = 0; i < 200; i++)
      await m.service.insert({
        orgId: 'single',
        items: [{ content: `single ${i}`, embedding: Array.from(vectors[i]) }],
      });
    say(`insert one at a time: ${fmt(200 / ((performance.now() - t) / 1000))} vectors/s`);

    t = performance.now();
    const truth = [];
    for (const q of queries) truth.push(await m.store.exactSearch('bench', q, 10));
    const exactQps = queries.length / ((performance.now() - t) / 1000);
    say(
      `exact DuckDB top-10 (array_cosine_similarity): ${fmt(exactQps, 1)} QPS (${fmt(1000 / exactQps, 1)} ms/query)`,
    );

    let best;
    for (const ef of [16, 32, 64, 128, 256, 512, 1024]) {
      const view = new AnnIndex(m.store, join(dir, 'hnsw'), { ...HNSW, expansionSearch: ef });
      await view.open();
      let recall = 0;
      t = performance.now();
      for (let r = 0; r < 3; r++)
        queries.forEach((q, i) => {
          const hits = view.search('bench', q, 10);
          if (r === 0) recall += recallOf(truth[i], hits, 10);
        });
      const qps = (3 * queries.length) / ((performance.now() - t) / 1000);
      recall /= queries.length;
      say(
        `HNSW ef=${ef}: recall@10 ${fmt(recall, 3)}, ${fmt(qps)} QPS (index only) = ${fmt(qps / exactQps, 1)}× exact`,
      );
      if (recall >= 0.95 && !best) best = { ef, qps, recall };
    }
    if (best) {
      const view = new AnnIndex(m.store, join(dir, 'hnsw'), { ...HNSW, expansionSearch: best.ef });
      await view.open();
      const svc = new MemoryService(m.store, view, new LocalHashEmbedder(DIM));
      t = performance.now();
      for (const q of queries)
        await svc.search({ orgId: 'bench', embedding: Array.from(q), topK: 10 });
      const full = queries.length / ((performance.now() - t) / 1000);
      say(
        `→ at recall@10 ≥ 0.95 (ef=${best.ef}, recall ${fmt(best.recall, 3)}): ${fmt(best.qps)} QPS index only, ${fmt(full)} QPS with the rows read back from DuckDB; ${fmt(best.qps / exactQps, 1)}× exact`,
      );
    } else say('→ no ef reached recall@10 ≥ 0.95');
    await m.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

say(`machine: node ${process.version}; resident at start ${mib()}`);
await measure('clustered', clustered(N, DIM, 100, 0.35, 1), clustered(Q, DIM, 100, 0.35, 2));

if (values.sotu) {
  const e = new LocalHashEmbedder(DIM);
  const passages = sotuPassages();
  const vectors = passages.map((p) => e.embedOne(p.text));
  const queries = passages
    .filter((_, i) => i % Math.ceil(passages.length / Q) === 1)
    .map((p) => e.embedOne(p.text.split(' ').slice(0, 12).join(' ')));
  await measure(
    'State of the Union passages (local embeddings)',
    vectors,
    queries,
    passages.map((p) => p.text),
  );
}

if (values.million) {
  const dir = mkdtempSync(join(tmpdir(), 'heady-bench-memory-'));
  try {
    say(`\n== 1,000,000 × ${DIM} (clustered), loaded in batches`);
    const store = await VectorsRepository.open(join(dir, 'memory.duckdb'), DIM);
    const index = new AnnIndex(store, join(dir, 'hnsw'), { ...HNSW, expansionSearch: 64 }, 1e9);
    await index.open();
    const service = new MemoryService(store, index, new LocalHashEmbedder(DIM));
    const t = performance.now();
    for (let b = 0; b < 10; b++) {
      const vs = clustered(100_000, DIM, 100, 0.35, 100 + b);
      for (let i = 0; i < vs.length; i += 1000)
        await service.insert({
          orgId: 'm',
          items: vs
            .slice(i, i + 1000)
            .map((v, j) => ({ content: `v${b}-${i + j}`, embedding: Array.from(v) })),
        });
      say(
        `  ${fmt((b + 1) * 100_000)} loaded, ${fmt((performance.now() - t) / 1000)} s, resident ${mib()}`,
      );
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
