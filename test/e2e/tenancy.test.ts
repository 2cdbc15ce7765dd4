import { withSystem } from '@heady/testing/fixtures';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';

// Every run belongs to the organization whose key started it. Another organization's run
// id answers exactly as an unknown id does (GET, cancel, events); an Idempotency-Key is
// scoped to (organization, API key, route), so reusing another caller's key starts a new
// run and never hands out the other run's id; the plan decides which actions a run may
// have, whichever route starts it. Operators (`heady runs`) still see every run.
describe('run tenancy', () => {
  /** acme: Enterprise (two keys); globex: Pro; initech: Free. */
  const system = withSystem({
    database: 'heady_e2e_tenancy',
    services: ['conductor', 'pipeline', 'gateway'],
    keys: {
      acme: { org: 'acme', plan: 'ENTERPRISE', role: 'member', name: 'a' },
      acme2: { org: 'acme', plan: 'ENTERPRISE', role: 'member', name: 'b' },
      globex: { org: 'globex', plan: 'PRO', role: 'member', name: 'g' },
      initech: { org: 'initech', plan: 'FREE', role: 'member', name: 'i' },
    },
  });
  const call = (
    method: string,
    path: string,
    key: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => system.request(method, path, { key, body, headers });

  async function startRun(key: string, body: unknown, idem?: string): Promise<string> {
    const r = await call('POST', '/api/runs', key, body, idem ? { 'idempotency-key': idem } : {});
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    return r.json.runId as string;
  }

  /** A 404 body with the run id taken out, so an unknown id's and a foreign id's compare. */
  function shape(
    r: { status: number; type: string | null; json: Record<string, unknown> },
    id: string,
  ) {
    return {
      status: r.status,
      type: r.type,
      body: JSON.parse(JSON.stringify(r.json).replaceAll(id, '<id>')) as unknown,
    };
  }

  it("answers another organization's run id with the same 404 as an unknown id (GET, cancel, events)", async () => {
    const runId = await startRun(system.keys.acme, {
      action: 'analyze',
      input: { text: 'acme secret' },
    });
    const unknown = randomUUID();
    for (const [method, suffix] of [
      ['GET', ''],
      ['POST', '/cancel'],
      ['GET', '/events'],
    ] as const) {
      const foreign = await call(method, `/api/runs/${runId}${suffix}`, system.keys.globex);
      const none = await call(method, `/api/runs/${unknown}${suffix}`, system.keys.globex);
      expect(foreign.status, `${method} ${suffix}`).toBe(404);
      expect(foreign.type).toMatch(/^application\/problem\+json/);
      expect(foreign.json).toMatchObject({ code: 'RUN_NOT_FOUND' });
      expect(shape(foreign, runId), `${method} ${suffix}`).toEqual(shape(none, unknown));
      expect(foreign.text).not.toContain('acme secret');
    }
    // the owner still sees it, and the foreign cancel did nothing
    const own = await call('GET', `/api/runs/${runId}`, system.keys.acme);
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({ runId, action: 'analyze' });
    const row = await system.db
      .selectFrom('pipeline_runs')
      .select(['cancel_requested_at', 'org_id'])
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(row.cancel_requested_at).toBeNull();
    const events = await fetch(`${system.gatewayUrl}/api/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${system.keys.acme}` },
    });
    expect(events.status).toBe(200);
    await events.body?.cancel();
  });

  // 5 s in CI
  it('records the organization of the key that started the run, and operators see every run', async () => {
    const runId = await startRun(system.keys.globex, { action: 'search', input: { q: 'x' } });
    const row = await system.db
      .selectFrom('pipeline_runs as r')
      .innerJoin('organizations as o', 'o.id', 'r.org_id')
      .select(['o.name'])
      .where('r.id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe('globex');
    const shown = (await system.heady(['runs', 'show', runId])) as { run: { id: string } };
    expect(shown.run.id).toBe(runId);
    const all = (await system.heady(['runs', 'ls', '-n', '1000'])) as { id: string; org: string }[];
    expect(all).toContainEqual(expect.objectContaining({ id: runId, org: 'globex' }));
    expect(new Set(all.map((r) => r.org))).toContain('acme');
    const globex = (await system.heady(['runs', 'ls', '--org', 'globex'])) as { org: string }[];
    expect(globex.length).toBeGreaterThan(0);
    expect(globex.every((r) => r.org === 'globex')).toBe(true);
  }, 45_000);

  it("starts a new run for another organization's Idempotency-Key and never reveals the first run", async () => {
    const idem = `order-${randomUUID()}`;
    const body = { action: 'analyze', input: { text: 'same body' } };
    const acmeRun = await startRun(system.keys.acme, body, idem);
    expect(await startRun(system.keys.acme, body, idem)).toBe(acmeRun); // the owner's replay

    // another organization, same key and body: its own new run
    const globexRun = await startRun(system.keys.globex, body, idem);
    expect(globexRun).not.toBe(acmeRun);
    // another organization, same key, another body: a new run too, never a 422 naming acme's
    const other = await call(
      'POST',
      '/api/runs',
      system.keys.initech,
      { action: 'analyze', input: { text: 'another body' } },
      { 'idempotency-key': idem },
    );
    expect(other.status, other.text).toBe(202);
    expect(other.text).not.toContain(acmeRun);
    expect(other.text).not.toContain(globexRun);
    // a conflict names only the caller's own run
    const conflict = await call(
      'POST',
      '/api/runs',
      system.keys.globex,
      { action: 'analyze', input: { text: 'yet another body' } },
      { 'idempotency-key': idem },
    );
    expect(conflict.status).toBe(422);
    expect(conflict.json).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(conflict.text).not.toContain(acmeRun);

    // the same organization's other API key has a scope of its own as well
    const acme2Run = await startRun(system.keys.acme2, body, idem);
    expect([acmeRun, globexRun]).not.toContain(acme2Run);
  });

  it('scopes an Idempotency-Key to the route: the same key on /api/brain/chat starts its own run', async () => {
    const idem = `chat-${randomUUID()}`;
    const viaRuns = await startRun(
      system.keys.globex,
      { action: 'chat', input: { message: 'hi' } },
      idem,
    );
    const viaBrain = await call(
      'POST',
      '/api/brain/chat',
      system.keys.globex,
      { message: 'hi' },
      { 'idempotency-key': idem },
    );
    expect(viaBrain.status, viaBrain.text).toBe(202);
    expect(viaBrain.json.runId).not.toBe(viaRuns);
  });

  it("refuses a run whose action is outside the caller's plan with 403 requiredPlan, whichever route", async () => {
    const before = await system.db
      .selectFrom('pipeline_runs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    // chat is what the Pro-only /api/brain/chat does: POST /api/runs must not do it on Free
    for (const [path, body] of [
      ['/api/runs', { action: 'chat', input: { message: 'hi' } }],
      ['/api/brain/chat', { message: 'hi' }],
      ['/api/runs', { action: 'code', input: {} }],
    ] as const) {
      const r = await call('POST', path, system.keys.initech, body);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(403);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.json).toMatchObject({ code: 'FORBIDDEN', requiredPlan: 'PRO', plan: 'FREE' });
    }
    const after = await system.db
      .selectFrom('pipeline_runs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    // what the plan includes still runs: Free analyze and search, Pro chat
    await startRun(system.keys.initech, { action: 'analyze', input: {} });
    await startRun(system.keys.initech, { action: 'search', input: {} });
    await startRun(system.keys.globex, { action: 'chat', input: {} });
    // an unknown action stays 422 (the routing table answers before the plan)
    const unknown = await call('POST', '/api/runs', system.keys.initech, {
      action: 'nope',
      input: {},
    });
    expect(unknown.status).toBe(422);
    expect(unknown.json).toMatchObject({ code: 'UNKNOWN_ACTION' });
  });

  it("lists only the caller's organization's runs, newest first, a page at a time", async () => {
    // initech (Free) gets runs of its own, so another organization has some in between
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      mine.push(
        await startRun(system.keys.initech, { action: i % 2 ? 'search' : 'analyze', input: {} }),
      );
      await startRun(system.keys.globex, { action: 'search', input: { q: `globex ${i}` } });
    }
    const expected = await system.db
      .selectFrom('pipeline_runs as r')
      .innerJoin('organizations as o', 'o.id', 'r.org_id')
      .select(['r.id'])
      .where('o.name', '=', 'initech')
      .orderBy('r.created_at', 'desc')
      .orderBy('r.id', 'desc')
      .execute();
    expect(expected.map((r) => r.id)).toEqual(expect.arrayContaining(mine));
    const foreign = new Set(
      (
        await system.db
          .selectFrom('pipeline_runs as r')
          .innerJoin('organizations as o', 'o.id', 'r.org_id')
          .select(['r.id'])
          .where('o.name', '!=', 'initech')
          .execute()
      ).map((r) => r.id),
    );
    expect(foreign.size).toBeGreaterThan(0);

    // page by 2 through every run of initech's, and nothing else
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call('GET', q, system.keys.initech);
      expect(page.status, page.text).toBe(200);
      const items = page.json.items as { runId: string; links: { self: string } }[];
      expect(items.length).toBeLessThanOrEqual(2);
      for (const it of items) {
        expect(foreign.has(it.runId), `${it.runId} belongs to another organization`).toBe(false);
        expect(it.links.self).toBe(`/api/runs/${it.runId}`);
      }
      seen.push(...items.map((i) => i.runId));
      cursor = page.json.nextCursor as string | null;
      pages++;
    } while (cursor && pages < 50);
    expect(seen).toEqual(expected.map((r) => r.id));

    // filters: action, status, and a time window
    const search = await call('GET', '/api/runs?action=search&limit=100', system.keys.initech);
    const searchIds = (search.json.items as { runId: string; action: string }[]).map((i) => {
      expect(i.action).toBe('search');
      return i.runId;
    });
    expect(searchIds).toEqual(expect.arrayContaining([mine[1], mine[3]]));
    expect(searchIds).not.toContain(mine[0]);
    const rows = await system.db
      .selectFrom('pipeline_runs')
      .select(['id', 'status', 'created_at'])
      .where('id', 'in', mine)
      .execute();
    const status = rows[0]?.status ?? 'PENDING';
    const byStatus = await call('GET', `/api/runs?status=${status}&limit=100`, system.keys.initech);
    for (const i of byStatus.json.items as { status: string }[]) expect(i.status).toBe(status);
    const times = rows.map((r) => r.created_at.getTime()).sort((a, b) => a - b);
    const since = new Date(times[1] ?? 0).toISOString();
    const until = new Date((times[3] ?? 0) + 1).toISOString();
    const window = await call(
      'GET',
      `/api/runs?since=${since}&until=${until}&limit=100`,
      system.keys.initech,
    );
    expect(window.status, window.text).toBe(200);
    for (const i of window.json.items as { createdAt: string }[]) {
      expect(Date.parse(i.createdAt)).toBeGreaterThanOrEqual(Date.parse(since));
      expect(Date.parse(i.createdAt)).toBeLessThan(Date.parse(until));
    }
    expect((window.json.items as unknown[]).length).toBeGreaterThanOrEqual(3);

    // a cursor of another organization's page is refused, and reveals nothing
    const globexPage = await call('GET', '/api/runs?limit=1', system.keys.globex);
    const globexCursor = globexPage.json.nextCursor as string;
    expect(globexCursor).toEqual(expect.any(String));
    const stolen = await call('GET', `/api/runs?cursor=${globexCursor}`, system.keys.initech);
    expect(stolen.status).toBe(422);
    expect(stolen.type).toMatch(/^application\/problem\+json/);
    expect(stolen.json).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('refuses a bad listing query with 422 problem+json naming the parameter', async () => {
    for (const [query, path] of [
      ['limit=0', 'query.limit'],
      ['limit=101', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['status=running', 'query.status'],
      ['since=yesterday', 'query.since'],
      ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'query.until'],
      ['cursor=not%20a%20cursor', 'query.cursor'],
      ['cursor=bm90LWEtY3Vyc29y', 'query.cursor'],
      ['sort=asc', 'query'],
    ] as const) {
      const r = await call('GET', `/api/runs?${query}`, system.keys.globex);
      expect(r.status, query).toBe(422);
      expect(r.type, query).toMatch(/^application\/problem\+json/);
      expect(r.json, query).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(
        (r.json.errors as { path: string }[]).map((e) => e.path),
        query,
      ).toContain(path);
    }
  });
});
