import { withGateway } from '@heady/testing/fixtures';
import { describe, expect, it } from 'vitest';

// Vector memory through the gateway: gateway → signed request/reply → vector-memory
// (its own process, its own DuckDB file) and back.
describe('vector memory through REST', () => {
  /** One developer key (PROPRIETARY: may erase) per organization. */
  const system = withGateway({
    database: 'heady_e2e_memory',
    memory: true,
    env: { HEADY_MEMORY_DIMENSIONS: '64' },
    keys: {
      acme: { org: 'acme', plan: 'ENTERPRISE', role: 'developer' },
      globex: { org: 'globex', plan: 'ENTERPRISE', role: 'developer' },
      strict: { org: 'strict', plan: 'ENTERPRISE', role: 'developer' },
    },
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
    const res = await fetch(`${system.gatewayUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  it('stores, searches, zones, counts and forgets, each organization apart', async () => {
    const org = { authorization: `Bearer ${system.keys.acme}` };
    const stored = await call(
      'POST',
      '/api/memory/vectors',
      {
        items: [
          { content: 'The steel tariff rose again', sessionId: 's1' },
          { content: 'Vaccination reached every school', sessionId: 's1' },
          {
            content: 'Railways crossed the western territories',
            sessionId: 's2',
            role: 'assistant',
          },
          {
            content: 'A treaty with the northern tribes',
            sessionId: 's2',
            metadata: { year: 1851 },
          },
        ],
      },
      org,
    );
    expect(stored.status).toBe(201);
    expect(stored.body.ids).toHaveLength(4);

    const found = await call(
      'POST',
      '/api/memory/search',
      { query: 'steel tariffs', topK: 2 },
      org,
    );
    expect(found.status).toBe(200);
    const results = found.body.results as { content: string; sessionId: string; score: number }[];
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ content: 'The steel tariff rose again', sessionId: 's1' });

    const inSession = await call(
      'POST',
      '/api/memory/search',
      { query: 'steel tariffs', topK: 5, sessionId: 's2' },
      org,
    );
    expect((inSession.body.results as { sessionId: string }[]).map((r) => r.sessionId)).toEqual([
      's2',
      's2',
    ]);

    // another organization sees none of it
    const other = await call(
      'POST',
      '/api/memory/search',
      { query: 'steel tariffs', topK: 5 },
      {
        authorization: `Bearer ${system.keys.globex}`,
      },
    );
    expect(other.body.results).toEqual([]);

    const zone = await call(
      'GET',
      `/api/memory/zone?q=${encodeURIComponent('steel')}`,
      undefined,
      org,
    );
    expect(zone.status).toBe(200);
    expect(zone.body.zone).toBeGreaterThanOrEqual(0);
    expect(zone.body.zone).toBeLessThan(8);
    expect(zone.body.coordinates).toHaveLength(3);

    const stats = await call('GET', '/api/memory/stats', undefined, org);
    expect(stats.body).toMatchObject({
      totalVectors: 4,
      sessions: 2,
      dimensions: 64,
      provider: 'local',
    });

    const gone = await call('DELETE', '/api/memory/sessions/s1', undefined, org);
    expect(gone.body).toEqual({ deleted: 2 });
    const after = await call('GET', '/api/memory/stats', undefined, org);
    expect(after.body).toMatchObject({ totalVectors: 2, sessions: 1 });
  });

  it('answers bad input with 4xx problem+json and stores nothing', async () => {
    const org = { authorization: `Bearer ${system.keys.strict}` };
    const cases: [string, string, unknown, number][] = [
      ['POST', '/api/memory/vectors', { items: [{ content: 'x', embedding: [1, 2, 3] }] }, 422],
      ['POST', '/api/memory/vectors', { items: [{ content: '   ' }] }, 422],
      ['POST', '/api/memory/vectors', { items: [{ content: 'x', embedding: ['NaN'] }] }, 422],
      ['POST', '/api/memory/vectors', '{"items":[{"content":"x","embedding":[NaN]}]}', 400],
      ['POST', '/api/memory/vectors', { items: [] }, 422],
      ['POST', '/api/memory/vectors', { items: [{ content: '?! …' }] }, 422],
      [
        'POST',
        '/api/memory/vectors',
        { items: [{ content: 'x', embedding: new Array(64).fill(0) }] },
        422,
      ],
      ['POST', '/api/memory/search', { embedding: new Array(64).fill(0) }, 422],
      ['POST', '/api/memory/vectors', { items: [{ content: 'x', extra: 1 }] }, 422],
      ['POST', '/api/memory/search', { query: 'x', topK: 0 }, 422],
      ['POST', '/api/memory/search', { query: 'x', topK: 101 }, 422],
      ['POST', '/api/memory/search', { embedding: new Array(63).fill(0.1) }, 422],
      ['POST', '/api/memory/search', { query: 'x', embedding: new Array(64).fill(0.1) }, 422],
      ['POST', '/api/memory/search', {}, 422],
      ['GET', '/api/memory/zone', undefined, 422],
      ['GET', '/api/memory/zone?q=steel', undefined, 409], // nothing stored yet
    ];
    for (const [method, path, body, status] of cases) {
      const r = await call(method, path, body, org);
      expect({ path, body, status: r.status }).toEqual({ path, body, status });
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status });
    }
    // memory belongs to the key's organization: no key, no memory
    const anonymous = await fetch(`${system.gatewayUrl}/api/memory/stats`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const stats = await call('GET', '/api/memory/stats', undefined, org);
    expect(stats.body).toMatchObject({ totalVectors: 0 });
  });
});
