import { withGateway } from '@heady/testing/fixtures';
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
});
