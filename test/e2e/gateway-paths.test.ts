import { billingEnvFor, startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Operation, fillPath, operationsOf } from './openapi-ops.js';
import { pathSpellings, rawRequest } from './path-spellings.js';

// One canonical path for every decision: the gateway limits, bans and gates on the route
// the router matched, never on the raw URL. Every spelling of every /api route that the
// router folds onto a route (`/%61pi/runs`) is counted in the same window as the literal
// path, so the 31st request of a Free organization in a minute is 429 whatever the
// spelling; a spelling the router does not match is a plain 404 problem+json. And the
// rate limit and ban come before the API key lookup: unknown keys and banned addresses
// cost no PostgreSQL query (heady_gateway_api_key_lookups_total{source="db"}).
// billing's routes answer too: billing talks to a local fake Stripe
const stripe = await startFakeStripeServer();
afterAll(() => stripe.close());

describe('gateway decisions on the matched route', () => {
  const system = withSystem({
    database: 'heady_e2e_paths',
    // every service behind a route, so each answers below 500
    services: ['vector-memory', 'knowledge-vault', 'billing', 'device-sync', 'gateway'],
    billing: billingEnvFor(stripe),
    env: {
      HEADY_MEMORY_DIMENSIONS: '64',
      HEADY_RPC_TIMEOUT_MS: '1000',
      // X-Forwarded-For from this machine names the client: each test an address of its own
      HEADY_TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
    },
  });
  let ops: Operation[];

  beforeAll(async () => {
    ops = (await operationsOf(system.gatewayUrl)).filter((o) => /^\/(api|v1)\//.test(o.path));
  });

  const freeAdminKey = (org: string): Promise<string> =>
    system.createKey({ org, plan: 'FREE', role: 'admin', name: 'paths' });

  /** `"free";r=<remaining>;t=...` → remaining; undefined when the answer carries none. */
  function remaining(h: Record<string, string | string[] | undefined>): number | undefined {
    const m = /;r=(\d+);/.exec(String(h.ratelimit ?? ''));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  }

  async function dbLookups(): Promise<number> {
    const text = await (await fetch(`${system.stack.services.gateway.opsUrl}/metrics`)).text();
    const m = /^heady_gateway_api_key_lookups_total\{[^}]*source="db"[^}]*\} (\d+)/m.exec(text);
    return Number(m?.[1] ?? 0);
  }

  // 7 s in CI
  it('counts every spelling of every /api route in the same window: the 31st Free request is 429', async () => {
    expect(ops.length).toBeGreaterThanOrEqual(10);
    for (const [i, op] of ops.entries()) {
      const key = await freeAdminKey(`paths-${i}`);
      const literal = fillPath(op.path, () => randomUUID());
      const query = op.query.some((q) => q.required) ? '?q=x' : '';
      const send = (path: string) =>
        rawRequest(
          system.gatewayUrl,
          op.method,
          `${path}${query}`,
          {
            authorization: `Bearer ${key}`,
            ...(op.body ? { 'content-type': 'application/json' } : {}),
          },
          op.body ? '{}' : undefined,
        );
      const matched: string[] = [];
      let expected = 30;
      for (const s of pathSpellings(literal)) {
        const where = `${op.method} ${s.path} (${s.name}, route ${op.path})`;
        const r = await send(s.path);
        expect(r.status, `${where}: ${r.text}`).toBeLessThan(500);
        const left = remaining(r.headers);
        if (left === undefined) {
          // not a route to the router: a clean 404, never an answer past the limiter
          expect(r.status, `${where} got past the router without the limiter`).toBe(404);
          expect(String(r.headers['content-type']), where).toMatch(/^application\/problem\+json/);
          continue;
        }
        expected -= 1;
        expect(left, `${where} is not counted with the literal path`).toBe(expected);
        matched.push(s.path);
      }
      expect(matched, `${op.method} ${op.path}`).toContain(literal);
      // the rest of the window on the literal path, then every matched spelling is refused
      while (expected > 0) {
        const r = await send(literal);
        expected -= 1;
        expect(remaining(r.headers), `${op.method} ${literal}`).toBe(expected);
      }
      for (const path of matched) {
        const r = await send(path);
        expect(r.status, `${op.method} ${path}: the 31st request`).toBe(429);
        expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
        expect(r.headers['retry-after']).toBeDefined();
      }
    }
  }, 45_000);

  it('refuses unknown keys and banned addresses before the key lookup: no PostgreSQL query', async () => {
    const ip = `198.51.100.${1 + ((randomBytes(1)[0] ?? 0) % 250)}`;
    const from = (address: string, key: string) =>
      rawRequest(system.gatewayUrl, 'GET', '/api/whoami', {
        authorization: `Bearer ${key}`,
        'x-forwarded-for': address,
      });
    const unknownKey = () => `hk_${randomBytes(32).toString('base64url')}`;

    const start = await dbLookups();
    // an address gets the anonymous budget (30 a minute) of unknown keys...
    for (let i = 0; i < 30; i++) expect((await from(ip, unknownKey())).status).toBe(401);
    expect(await dbLookups()).toBe(start + 30);
    // ...then 429 without a lookup, and after 20 such 429s a ban, still without one
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await from(ip, unknownKey())).status);
    expect(statuses.slice(0, 19)).toEqual(Array(19).fill(429));
    expect(statuses.slice(19)).toEqual(Array(6).fill(403));
    expect(await dbLookups()).toBe(start + 30);

    // a live key the gateway has never seen is not looked up from the banned address either
    const live = await freeAdminKey('paths-live');
    const banned = await from(ip, live);
    expect(banned.status).toBe(403);
    expect(JSON.parse(banned.text)).toMatchObject({ code: 'BANNED', subject: `ip:${ip}` });
    expect(await dbLookups()).toBe(start + 30);
    // from anywhere else it works (and is looked up once)
    expect((await from('192.0.2.9', live)).status).toBe(200);
    expect(await dbLookups()).toBe(start + 31);
  });
});
