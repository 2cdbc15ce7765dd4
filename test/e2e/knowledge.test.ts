import { withGateway } from '@heady/testing/fixtures';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Hit {
  documentId: string;
  sourceId: string;
  title: string | null;
  text: string;
  score: number;
  lexicalRank?: number | null;
  vectorRank?: number | null;
}
interface Receipt {
  operation: string;
  stored: boolean;
  reason: string | null;
  sourceId: string | null;
  documentId: string | null;
}

// The knowledge vault through REST: gateway → signed request/reply → knowledge-vault (its
// own process) → PostgreSQL, for two organizations that must never see each other's passages.
describe('the knowledge vault through REST', () => {
  const system = withGateway({
    database: 'heady_e2e_knowledge',
    knowledge: true,
    env: { HEADY_VAULT_MAX_DOCUMENT_BYTES: '4000', HEADY_VAULT_DIMENSIONS: '128' },
    keys: {
      acme: { org: 'acme', plan: 'ENTERPRISE', role: 'developer' },
      globex: { org: 'globex', plan: 'ENTERPRISE', role: 'developer' },
    },
  });
  const as = (key: 'acme' | 'globex') => ({ key: system.keys[key] });
  const search = async (key: 'acme' | 'globex', query: string): Promise<Hit[]> => {
    const res = await system.request('GET', `/api/knowledge/search?${query}`, as(key));
    expect(res.status, res.text).toBe(200);
    return res.json.results as Hit[];
  };

  it('stores, searches, deduplicates and drops documents, each organization apart', async () => {
    const documents = [
      {
        sourceId: 'notes/steel.md',
        title: 'Steel',
        content:
          '# Tariffs\nThe steel tariff rose again in the spring. Foundries hired more workers.',
      },
      {
        sourceId: 'notes/schools.md',
        title: 'Schools',
        content: 'Vaccination reached every school in the valley. Teachers were trained.',
        metadata: { year: 1901 },
      },
    ];
    const stored = await system.request('POST', '/api/knowledge/documents', {
      ...as('acme'),
      body: { documents },
    });
    expect(stored.status, stored.text).toBe(201);
    const receipts = stored.json.receipts as Receipt[];
    expect(receipts.map((r) => [r.sourceId, r.operation, r.stored])).toEqual([
      ['notes/steel.md', 'STORE', true],
      ['notes/schools.md', 'STORE', true],
    ]);
    // globex stores a document of the same words
    const theirs = await system.request('POST', '/api/knowledge/documents', {
      ...as('globex'),
      body: { documents: [{ sourceId: 'x', content: 'Globex steel tariff memo.' }] },
    });
    expect(theirs.status).toBe(201);

    // hybrid finds it through typos, with both ranks and its attribution
    const hits = await search('acme', 'q=stel+tarrifs+rose&k=5');
    expect(hits[0]).toMatchObject({ sourceId: 'notes/steel.md', title: 'Steel' });
    expect(hits[0]?.text).toContain('steel tariff');
    expect(hits[0]).toHaveProperty('lexicalRank');
    expect(hits[0]?.vectorRank).toBe(1);
    expect((await search('acme', 'q=vaccinated+schools&mode=lexical'))[0]?.sourceId).toBe(
      'notes/schools.md',
    );
    // never another organization's passage, in any mode
    for (const mode of ['hybrid', 'lexical', 'vector']) {
      const mine = await search('globex', `q=steel+tariff+vaccination&mode=${mode}&k=50`);
      expect(mine.map((h) => h.sourceId)).toEqual(['x']);
    }
    const globexReceipts = await system.request('GET', '/api/knowledge/receipts', as('globex'));
    expect((globexReceipts.json.receipts as Receipt[]).every((r) => r.sourceId === 'x')).toBe(true);

    // unchanged: nothing new
    const again = await system.request('POST', '/api/knowledge/documents', {
      ...as('acme'),
      body: { documents: documents.slice(0, 1) },
    });
    expect((again.json.receipts as Receipt[])[0]).toMatchObject({
      operation: 'STORE',
      stored: false,
      reason: 'duplicate',
    });

    // another organization cannot drop it; its owner can
    const id = hits[0]?.documentId as string;
    const foreign = await system.request('DELETE', `/api/knowledge/documents/${id}`, as('globex'));
    expect(foreign.status).toBe(404);
    expect(foreign.type).toContain('application/problem+json');
    const dropped = await system.request('DELETE', `/api/knowledge/documents/${id}`, as('acme'));
    expect(dropped.status, dropped.text).toBe(200);
    expect(dropped.json.receipt).toMatchObject({
      operation: 'DROP',
      stored: false,
      reason: 'deleted',
    });
    expect((await search('acme', 'q=steel+tariff&k=10')).map((h) => h.sourceId)).not.toContain(
      'notes/steel.md',
    );
    const history = await system.request(
      'GET',
      `/api/knowledge/receipts?documentId=${id}`,
      as('acme'),
    );
    expect((history.json.receipts as Receipt[]).map((r) => r.operation)).toEqual([
      'EMBED',
      'STORE',
      'STORE',
      'DROP',
    ]);
  });

  it('answers bad input with problem+json and stores nothing, with a DROP receipt for a refused document', async () => {
    for (const q of [
      'q=',
      'q=%20%20',
      'q=steel&k=51',
      'q=steel&k=0',
      'q=steel&mode=fuzzy',
      'q=a&x=1',
    ]) {
      const res = await system.request('GET', `/api/knowledge/search?${q}`, as('acme'));
      expect(res.status, q).toBe(422);
      expect(res.type).toContain('application/problem+json');
      expect(res.json.code).toBe('VALIDATION_FAILED');
    }
    const big = await system.request('POST', '/api/knowledge/documents', {
      ...as('acme'),
      body: { documents: [{ sourceId: 'big.md', content: `zeppelinium ${'x'.repeat(5000)}` }] },
    });
    expect(big.status).toBe(413);
    expect(big.type).toContain('application/problem+json');
    expect(big.json.receipts).toMatchObject([
      { operation: 'DROP', stored: false, reason: 'too_large', sourceId: 'big.md' },
    ]);
    const empty = await system.request('POST', '/api/knowledge/documents', {
      ...as('acme'),
      body: { documents: [{ sourceId: 'empty.md', content: '   ' }] },
    });
    expect(empty.status).toBe(422);
    expect(empty.json.receipts).toMatchObject([{ operation: 'DROP', reason: 'empty' }]);
    expect(await search('acme', 'q=zeppelinium&mode=lexical')).toEqual([]);
    const drops = await system.request('GET', '/api/knowledge/receipts?limit=200', as('acme'));
    const mine = (drops.json.receipts as Receipt[]).filter((r) => r.operation === 'DROP');
    expect(mine.map((r) => r.reason)).toEqual(expect.arrayContaining(['too_large', 'empty']));
    const noKey = await system.request('GET', '/api/knowledge/search?q=steel', { key: null });
    expect(noKey.status).toBe(401);
  });

  it('ingests a git repository at HEAD with `heady vault ingest repo`, then only what git diff says changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heady-vault-repo-'));
    const git = (...args: string[]): string =>
      execFileSync(
        'git',
        ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args],
        {
          encoding: 'utf8',
        },
      ).trim();
    const write = (path: string, text: string): void => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    const ingestRepo = (): Promise<Record<string, unknown>> =>
      system.heady(['vault', 'ingest', 'repo', dir, '--name', 'demo'], {
        HEADY_API_KEY: system.keys.acme,
        HEADY_GATEWAY_URL: system.gatewayUrl,
      }) as Promise<Record<string, unknown>>;
    try {
      git('init', '-q');
      write('README.md', '# Demo\nThe quarkwheel turns the flux capacitor.');
      write('src/a.ts', 'export const gravitonSpanner = 1; // tightens graviton bolts');
      write('docs/guide.md', '# Guide\nCalibrate the oscillometer weekly.');
      write('logo.png', 'not really a png');
      git('add', '.');
      git('commit', '-qm', 'one');
      const first = git('rev-parse', 'HEAD');
      expect(await ingestRepo()).toMatchObject({
        repo: 'demo',
        commit: first,
        from: null,
        sent: 3,
        stored: 3,
      });
      const hit = await search('acme', 'q=quarkwheel&source=REPO&mode=lexical');
      expect(hit[0]).toMatchObject({ sourceId: 'README.md', title: 'README.md' });

      write('docs/guide.md', '# Guide\nCalibrate the oscillometer daily.');
      git('rm', '-q', 'src/a.ts');
      write('src/b.ts', 'export const plasmaLadle = 2;');
      git('add', '.');
      git('commit', '-qm', 'two');
      const second = git('rev-parse', 'HEAD');
      expect(await ingestRepo()).toMatchObject({
        from: first,
        commit: second,
        sent: 2,
        stored: 2,
        deleted: 1,
      });
      expect(await search('acme', 'q=gravitonSpanner&source=REPO&mode=lexical')).toEqual([]);
      expect((await search('acme', 'q=plasmaLadle&source=REPO&mode=lexical'))[0]?.sourceId).toBe(
        'src/b.ts',
      );
      expect(await ingestRepo()).toMatchObject({ from: second, sent: 0, stored: 0, deleted: 0 });

      const page = await system.request(
        'GET',
        '/api/knowledge/receipts?source=REPO&limit=200',
        as('acme'),
      );
      const receipts = page.json.receipts as Receipt[];
      // README.md was embedded once, at the first ingest only
      expect(receipts.filter((r) => r.sourceId === 'README.md').map((r) => r.operation)).toEqual([
        'INGEST',
        'EMBED',
        'STORE',
      ]);
      expect(
        receipts.find((r) => r.sourceId === 'src/a.ts' && r.operation === 'DROP'),
      ).toMatchObject({
        stored: false,
        reason: 'source_deleted',
      });
      const docs = await system.db
        .selectFrom('documents')
        .select(['source_id', 'metadata'])
        .where('source', '=', 'REPO')
        .orderBy('source_id')
        .execute();
      expect(docs.map((d) => [d.source_id, d.metadata.commit])).toEqual([
        ['README.md', first],
        ['docs/guide.md', second],
        ['src/b.ts', second],
      ]);
      // globex has no such repository
      const theirs = await system.request(
        'GET',
        '/api/knowledge/repos/cursor?repo=demo',
        as('globex'),
      );
      expect(theirs.json).toEqual({ repo: 'demo', commit: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps each organization's PIPELINE opt-in apart", async () => {
    const read = async (key: 'acme' | 'globex') =>
      (await system.request('GET', '/api/knowledge/settings', as(key))).json;
    expect(await read('acme')).toEqual({ pipelineResults: false });
    const set = await system.request('PUT', '/api/knowledge/settings', {
      ...as('acme'),
      body: { pipelineResults: true },
    });
    expect(set.status, set.text).toBe(200);
    expect(await read('acme')).toEqual({ pipelineResults: true });
    expect(await read('globex')).toEqual({ pipelineResults: false });
  });
});
