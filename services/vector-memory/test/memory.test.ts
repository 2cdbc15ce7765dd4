import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnIndex } from '../src/index/ann-index.js';
import { clustered, sotuPassages } from '../src/evaluation/datasets.js';
import { LocalHashEmbedder, OpenAICompatibleEmbedder } from '../src/embeddings/embeddings.js';
import { EXACT_SESSION_MAX, MemoryService, recallOf } from '../src/memory/memory.service.js';
import { DimensionMismatchError, VectorsRepository } from '../src/memory/vectors.repository.js';

const DIM = 384;

async function open(dir: string, dim = DIM) {
  const store = await VectorsRepository.open(join(dir, 'memory.duckdb'), dim);
  const index = new AnnIndex(store, join(dir, 'memory.duckdb.hnsw'));
  await index.open();
  const service = new MemoryService(store, index, new LocalHashEmbedder(dim));
  return { store, index, service, close: async () => (index.saveAll(), await store.close()) };
}
type Memory = Awaited<ReturnType<typeof open>>;

/** Mean recall@k of the index against DuckDB's exact answer (ties at the k-th score count as hits, as in ann-benchmarks). */
async function recall(m: Memory, org: string, queries: Float32Array[], k = 10): Promise<number> {
  let sum = 0;
  for (const q of queries) {
    const truth = await m.store.exactSearch(org, q, k);
    sum += recallOf(truth, m.index.search(org, q, k), k);
  }
  return sum / queries.length;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'heady-memory-'));

describe('vector memory', () => {
  let dir: string;
  let m: Memory;
  beforeAll(async () => {
    dir = tmp();
    m = await open(dir);
  });
  afterAll(async () => {
    await m?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores texts and finds them by meaning of their words', async () => {
    const { ids } = await m.service.insert({
      orgId: 'acme',
      items: [
        { content: 'The tariff on imported steel rose again this quarter', sessionId: 's1' },
        { content: 'Our vaccination campaign reached every school district', sessionId: 's1' },
        { content: 'Railway construction across the western territories', sessionId: 's2' },
      ],
    });
    expect(ids).toHaveLength(3);
    const { results } = await m.service.search({ orgId: 'acme', query: 'steel tariffs', topK: 2 });
    expect(results[0]).toMatchObject({ id: ids[0], sessionId: 's1', role: 'user' });
    expect(results[0]?.content).toContain('steel');
  });

  it('never shows one organization another one’s memory', async () => {
    await m.service.insert({
      orgId: 'globex',
      items: [{ content: 'steel tariff memo of globex' }],
    });
    const { results } = await m.service.search({
      orgId: 'globex',
      query: 'steel tariff',
      topK: 10,
    });
    expect(results).toHaveLength(1);
    expect(results[0]?.content).toBe('steel tariff memo of globex');
    const acme = await m.service.search({ orgId: 'acme', query: 'globex memo', topK: 10 });
    expect(acme.results.map((r) => r.content)).not.toContain('steel tariff memo of globex');
  });

  it('refuses bad input with a validation error and stores nothing', async () => {
    const before = (await m.store.summary('acme')).count;
    const bad = [
      { orgId: 'acme', items: [{ content: 'x', embedding: [1, 2, 3] }] },
      { orgId: 'acme', items: [{ content: '   ' }] },
      { orgId: 'acme', items: [{ content: 'ok' }, { content: 'nan', embedding: [Number.NaN] }] },
      { orgId: 'acme', items: [] },
      { orgId: '', items: [{ content: 'x' }] },
      // nothing to embed, or an explicit zero vector: cosine has no direction to compare
      { orgId: 'acme', items: [{ content: 'ok' }, { content: '?! …' }] },
      { orgId: 'acme', items: [{ content: 'z', embedding: new Array(DIM).fill(0) }] },
    ];
    for (const req of bad)
      await expect(m.service.insert(req)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    for (const req of [
      { orgId: 'acme', query: 'x', topK: 0 },
      { orgId: 'acme', query: 'x', topK: 101 },
      { orgId: 'acme', query: 'x', embedding: new Array(DIM).fill(0.1), topK: 3 },
      { orgId: 'acme', topK: 3 },
      { orgId: 'acme', embedding: [0.1, 0.2], topK: 3 },
      { orgId: 'acme', query: '' },
      { orgId: 'acme', query: '?! …', topK: 3 },
      { orgId: 'acme', embedding: new Array(DIM).fill(0), topK: 3 },
    ])
      await expect(m.service.search(req)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await m.store.summary('acme')).count).toBe(before);
  });

  it('filters by session and still returns k results when k exist, on the exact and on the HNSW path', async () => {
    const vs = clustered(EXACT_SESSION_MAX + 800, DIM, 20, 0.35, 3);
    const items = vs.map((v, i) => ({
      content: `v${i}`,
      embedding: Array.from(v),
      sessionId: i % 8 === 0 ? 'small' : i < EXACT_SESSION_MAX + 400 ? 'big' : 'other',
    }));
    for (let i = 0; i < items.length; i += 1000)
      await m.service.insert({ orgId: 'filter', items: items.slice(i, i + 1000) });
    expect(m.index.sessionSize('filter', 'big')).toBeGreaterThan(EXACT_SESSION_MAX);
    for (const session of ['small', 'big']) {
      const r = await m.service.search({
        orgId: 'filter',
        embedding: Array.from(vs[5] as Float32Array),
        topK: 25,
        sessionId: session,
      });
      expect(r.exact).toBe(session === 'small');
      expect(r.results).toHaveLength(25);
      expect(r.results.every((x) => x.sessionId === session)).toBe(true);
    }
  }, 120_000);

  it('forgets a deleted session in DuckDB and in the index', async () => {
    const before = m.index.size('filter');
    const { deleted } = await m.service.deleteSession({ orgId: 'filter', sessionId: 'small' });
    expect(deleted).toBeGreaterThan(0);
    expect(m.index.size('filter')).toBe(before - deleted);
    expect((await m.store.summary('filter')).count).toBe(before - deleted);
    const r = await m.service.search({
      orgId: 'filter',
      embedding: Array.from(clustered(1, DIM, 20, 0.35, 3)[0] as Float32Array),
      topK: 50,
    });
    expect(r.results.some((x) => x.sessionId === 'small')).toBe(false);
  });

  it('reports stats with a recall probe, and zones as octants of the principal axes', async () => {
    const s = await m.service.stats({ orgId: 'filter' });
    expect(s).toMatchObject({ orgId: 'filter', dimensions: DIM, provider: 'local', sessions: 2 });
    const index = s.index as { inStep: boolean; recallProbe: { recallAt10: number } };
    expect(index.inStep).toBe(true);
    expect(index.recallProbe.recallAt10).toBeGreaterThanOrEqual(0.9);
    const z = await m.service.zone({ orgId: 'acme', query: 'steel tariff' });
    expect(z.zone).toBeGreaterThanOrEqual(0);
    expect(z.zone).toBeLessThan(8);
    expect(z.coordinates).toHaveLength(3);
    expect(z.basis.fittedAtCount).toBe(3);
    await expect(m.service.zone({ orgId: 'nobody', query: 'x' })).rejects.toMatchObject({
      code: 'INSUFFICIENT_DATA',
    });
  });

  it('reaches recall@10 ≥ 0.95 against exact DuckDB search on clustered 384-d vectors', async () => {
    const n = 20_000;
    const vs = clustered(n, DIM, 100, 0.35, 11);
    for (let i = 0; i < n; i += 1000)
      await m.service.insert({
        orgId: 'recall',
        items: vs
          .slice(i, i + 1000)
          .map((v, j) => ({ content: `c${i + j}`, embedding: Array.from(v) })),
      });
    const queries = clustered(50, DIM, 100, 0.35, 12);
    expect(await recall(m, 'recall', queries)).toBeGreaterThanOrEqual(0.95);
  }, 300_000);

  it('reaches recall@10 ≥ 0.95 on local embeddings of the State of the Union addresses', async () => {
    const passages = sotuPassages();
    expect(passages.length).toBeGreaterThan(10_000);
    const embedder = new LocalHashEmbedder(DIM);
    for (let i = 0; i < passages.length; i += 1000)
      await m.service.insert({
        orgId: 'sotu',
        items: passages
          .slice(i, i + 1000)
          .map((p) => ({ content: p.text, metadata: { year: p.year } })),
      });
    const queries = (
      await embedder.embed([
        'tariffs on imported manufactures',
        'the war with Mexico',
        'relations with Great Britain and France',
        'the public debt and the treasury',
        'railroads and the settlement of the western territories',
        'slavery and the union',
        'education and schools',
        'the navy and coastal defense',
        'Indian tribes and treaties',
        'the Great Depression and unemployment',
        'nuclear weapons and the Soviet Union',
        'terrorism and homeland security',
        'health care costs',
        'immigration reform',
        'energy independence and oil',
        'civil rights',
        'the space program',
        'agriculture and farmers',
        'the postal service',
        'veterans and pensions',
      ])
    ).concat(passages.filter((_, i) => i % 431 === 0).map((p) => embedder.embedOne(p.text)));
    expect(await recall(m, 'sotu', queries)).toBeGreaterThanOrEqual(0.95);
  }, 300_000);
});

describe('vector memory across restarts', () => {
  it('reloads its saved index when in step, catches up or rebuilds when not, and refuses another dimension', async () => {
    const dir = tmp();
    try {
      let m = await open(dir);
      const vs = clustered(3000, DIM, 30, 0.35, 21);
      for (const from of [0, 1000])
        await m.service.insert({
          orgId: 'o',
          items: vs
            .slice(from, from + 1000)
            .map((v, i) => ({ content: `a${from + i}`, embedding: Array.from(v) })),
        });
      await m.close();

      m = await open(dir);
      expect(m.index.status.lastRebuild).toBeNull(); // loaded from disk
      expect(m.index.size('o')).toBe(2000);
      // rows added behind the index's back (as if the process died before saving)
      await m.store.insert(
        vs.slice(2000).map((v, i) => ({
          id: `late-${i}`,
          orgId: 'o',
          ts: Date.now(),
          role: 'user',
          content: `b${i}`,
          embedding: v,
          tokenCount: 1,
          sessionId: null,
          metadata: null,
        })),
      );
      await m.store.close();

      m = await open(dir);
      expect(m.index.status.lastRebuild).toBeNull(); // caught up, not rebuilt
      expect(m.index.size('o')).toBe(3000);
      expect(await recall(m, 'o', vs.slice(2500, 2520))).toBeGreaterThanOrEqual(0.95);
      await m.close();

      rmSync(join(dir, 'memory.duckdb.hnsw'), { recursive: true, force: true });
      m = await open(dir);
      expect(m.index.status.lastRebuildReason).toBe('no saved index');
      expect(m.index.size('o')).toBe(3000);
      await m.close();

      await expect(VectorsRepository.open(join(dir, 'memory.duckdb'), 768)).rejects.toBeInstanceOf(
        DimensionMismatchError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps every acknowledged insert when the process is SIGKILLed mid-insert, and the index agrees with DuckDB', async () => {
    const dir = tmp();
    try {
      // the built service (npm test builds first), as it runs in production
      const script = `
        import { VectorsRepository } from './dist/memory/vectors.repository.js';
        import { AnnIndex } from './dist/index/ann-index.js';
        import { MemoryService } from './dist/memory/memory.service.js';
        import { LocalHashEmbedder } from './dist/embeddings/embeddings.js';
        const store = await VectorsRepository.open(${JSON.stringify(join(dir, 'memory.duckdb'))}, ${DIM});
        const index = new AnnIndex(store, ${JSON.stringify(join(dir, 'memory.duckdb.hnsw'))}, undefined, 50);
        await index.open();
        const svc = new MemoryService(store, index, new LocalHashEmbedder(${DIM}));
        for (let i = 0; ; i++) {
          const { ids } = await svc.insert({ orgId: 'crash', items: [{ content: 'message number ' + i + ' about topic ' + (i % 17) }] });
          process.stdout.write(ids[0] + '\\n');
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: join(import.meta.dirname, '..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const acked: string[] = [];
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop() ?? '';
          acked.push(...lines.filter(Boolean));
          if (acked.length >= 400) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.once('exit', () => (acked.length >= 400 ? resolve() : reject(new Error(err))));
      });
      await new Promise((r) => child.once('exit', r));

      const m = await open(dir);
      try {
        const present = await m.store.existing(acked);
        expect(acked.filter((id) => !present.has(id))).toEqual([]);
        const { count } = await m.store.summary('crash');
        expect(count).toBeGreaterThanOrEqual(acked.length);
        expect(m.index.size('crash')).toBe(count);
        const hits = await m.service.search({
          orgId: 'crash',
          query: 'message number 7 about topic 7',
          topK: 1,
        });
        expect(hits.results[0]?.content).toBe('message number 7 about topic 7');
      } finally {
        await m.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('vector memory with a damaged saved index', () => {
  /** Opens the built service in a child process (a loader abort must not take this runner down). */
  async function reopen(dir: string): Promise<{ code: number | null; out: string; err: string }> {
    const script = `
      import { VectorsRepository } from './dist/memory/vectors.repository.js';
      import { AnnIndex } from './dist/index/ann-index.js';
      const store = await VectorsRepository.open(${JSON.stringify(join(dir, 'memory.duckdb'))}, ${DIM});
      const index = new AnnIndex(store, ${JSON.stringify(join(dir, 'memory.duckdb.hnsw'))});
      await index.open();
      process.stdout.write(JSON.stringify({ size: index.size('o'), status: index.status }));
      index.saveAll();
      await store.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    return { code, out, err };
  }

  it('rebuilds from DuckDB, instead of crashing, when the saved graph is garbage or cut short', async () => {
    const dir = tmp();
    try {
      const m = await open(dir);
      const vs = clustered(300, DIM, 5, 0.35, 7);
      await m.service.insert({
        orgId: 'o',
        items: vs.map((v, i) => ({ content: `v${i}`, embedding: Array.from(v) })),
      });
      await m.close();
      const hnsw = join(dir, 'memory.duckdb.hnsw');
      const file = join(hnsw, readdirSync(hnsw).find((f) => f.endsWith('.usearch')) ?? '');
      const saved = readFileSync(file);
      // garbage of the same length (usearch's loader aborts the process on this), then half a file
      for (const [damage, bytes] of [
        ['garbage', Buffer.alloc(saved.length, 'garbage')],
        ['half-written', saved.subarray(0, saved.length >> 1)],
      ] as const) {
        writeFileSync(file, bytes);
        const r = await reopen(dir);
        expect(r.code, `${damage}: ${r.err}`).toBe(0);
        const opened = JSON.parse(r.out) as { size: number; status: { lastRebuildReason: string } };
        expect(opened.size, damage).toBe(300);
        expect(opened.status.lastRebuildReason, damage).toMatch(/corrupt/);
      }
      // the rebuilt graph was saved whole: the next start loads it as it is
      const again = JSON.parse((await reopen(dir)).out) as { status: { lastRebuild: unknown } };
      expect(again.status.lastRebuild).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('openai-compatible embeddings', () => {
  let server: Server;
  let url: string;
  const seen: { auth?: string; body: { model: string; input: string[] } }[] = [];
  beforeAll(async () => {
    // a local server honouring POST /v1/embeddings
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as { model: string; input: string[] };
        seen.push({ auth: req.headers.authorization, body });
        if (body.model === 'broken') {
          res.writeHead(500).end('model crashed');
          return;
        }
        const dim = body.model === 'small' ? 8 : 4;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            // out of order on purpose: clients must use `index`
            data: body.input
              .map((t, i) => ({
                object: 'embedding',
                index: i,
                embedding: Array.from({ length: dim }, (_, j) => t.length + j),
              }))
              .reverse(),
            model: body.model,
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it('calls /v1/embeddings with the model and key, and keeps the inputs’ order', async () => {
    const e = new OpenAICompatibleEmbedder({
      baseUrl: `${url}/`,
      apiKey: 'sk-test',
      model: 'small',
      dimensions: 8,
    });
    const [a, b] = await e.embed(['ab', 'abcd']);
    expect(Array.from(a ?? [])).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(b ?? [])[0]).toBe(4);
    expect(seen.at(-1)).toMatchObject({
      auth: 'Bearer sk-test',
      body: { model: 'small', input: ['ab', 'abcd'] },
    });
  });

  it('fails clearly on a dimension mismatch and on a provider error', async () => {
    const wrong = new OpenAICompatibleEmbedder({ baseUrl: url, model: 'tiny', dimensions: 8 });
    await expect(wrong.embed(['x'])).rejects.toThrow(/4 dimensions; this deployment is fixed at 8/);
    const broken = new OpenAICompatibleEmbedder({ baseUrl: url, model: 'broken', dimensions: 8 });
    await expect(broken.embed(['x'])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('never puts the provider URL or its response body in the error a client sees', async () => {
    const logged: Error[] = [];
    const broken = new OpenAICompatibleEmbedder({
      baseUrl: url,
      model: 'broken',
      dimensions: 8,
      onFailure: (e) => logged.push(e),
    });
    const err = (await broken.embed(['x']).catch((e: unknown) => e)) as Error & {
      details: object;
    };
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      message: 'the embedding provider answered HTTP 500',
    });
    const seenByClient = JSON.stringify({ message: err.message, details: err.details });
    expect(seenByClient).not.toContain('127.0.0.1');
    expect(seenByClient).not.toContain('model crashed');
    // the whole story goes to the service's own log
    expect(logged.map(String)).toEqual([expect.stringContaining('model crashed')]);
    expect(String(logged[0])).toContain(url);
    const closed = new OpenAICompatibleEmbedder({
      baseUrl: 'http://internal-embedder.invalid:1',
      model: 'm',
      dimensions: 8,
      timeoutMs: 2_000,
    });
    const down = (await closed.embed(['x']).catch((e: unknown) => e)) as Error;
    expect(down.message).toBe('the embedding provider is unreachable');
    expect(down.message).not.toContain('internal-embedder');
  });
});
