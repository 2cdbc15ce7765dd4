import { billingEnvFor, startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import fc from 'fast-check';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Operation, fillPath, operationsOf, sample } from './openapi-ops.js';
import { pathSpellings } from './path-spellings.js';

// 1000 malformed, oversized or wrongly typed requests across every route of the OpenAPI
// document, against the gateway as its own process (with the services behind it, so a
// request that happens to be valid is served, not refused for want of a service).
// Whatever arrives, the gateway answers below 500, and every error under /api is
// application/problem+json with type, title and status.
//
// Paths come literal and in other spellings (percent-encoded letters, doubled slashes, dot
// segments, a trailing dot, other cases): whatever the router makes of them, the answer is
// one of the above, never a 5xx.
//
// The seed is fixed (HEADY_FUZZ_SEED overrides it); on failure fast-check prints the seed,
// the path and the smallest request that fails, so the failure replays exactly.
const SEED = Number(process.env.HEADY_FUZZ_SEED ?? 5_2026);
const RUNS = Number(process.env.HEADY_FUZZ_RUNS ?? 1000);
/** The body limit the gateway runs with here (small, so oversized bodies stay cheap). */
const BODY_LIMIT = 65_536;

/** Large payloads are described, not spelled out, so a counterexample prints small. */
type Text = string | { repeat: string; times: number };
const text = (t: Text): string => (typeof t === 'string' ? t : t.repeat.repeat(t.times));

type BodyRecipe =
  | { kind: 'none' }
  | { kind: 'wrong-type'; field: string; value: unknown }
  | { kind: 'extra-field'; field: string; value: unknown }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: Text; contentType: string | undefined }
  | { kind: 'oversized'; bytes: number };

type Auth =
  | { kind: 'key' }
  | { kind: 'none' }
  | { kind: 'header'; value: Text }
  | { kind: 'unknown-key'; suffix: string };

interface Recipe {
  op: number;
  /** Another method on the same path (an unrouted request). */
  method: string | undefined;
  params: Text[];
  /** Which spelling of the path (see path-spellings.ts): 0 is the literal path. */
  spelling: number;
  query: Text | undefined;
  body: BodyRecipe;
  auth: Auth;
  idempotencyKey: Text | undefined;
}

// header values an HTTP client can send: Latin-1 without controls (no NUL, CR, LF, DEL)
const headerText = fc
  .string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
  })
  .filter((s) => s.trim() === s);
const unicode = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e\u0301', '\uffff', '💥'),
);
const huge: fc.Arbitrary<Text> = fc.record({
  repeat: fc.constantFrom('a', 'é', '💥', '\u0000', ' '),
  times: fc.integer({ min: 4_000, max: 12_000 }),
});
/** A value of any JSON type, including the awkward ones. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  unicode,
  huge.map(text),
  fc.constantFrom(null, true, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, '', [], {}),
);

const pathParam: fc.Arbitrary<Text> = fc.oneof(
  fc.uuid().map((u) => u),
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
  unicode.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))),
  fc.record({
    repeat: fc.constantFrom('a', '0', '-', '%41'),
    times: fc.integer({ min: 200, max: 3_000 }),
  }),
  fc.constantFrom(
    '%00',
    '%',
    '%E0%A4%A',
    '%zz',
    '..',
    '%2e%2e',
    '%2F',
    'a%2Fb',
    '%C0%AF',
    '%ff%fe',
    '%20',
    '-1',
    '0',
    'null',
  ),
);

const queryString: fc.Arbitrary<Text> = fc.oneof(
  fc
    .array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 })), { maxLength: 6 })
    .map((kv) => kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  fc.constantFrom(
    'q=a&q=b',
    'q',
    'q=',
    'q=%zz',
    '%',
    '&&&=',
    'q[a]=1',
    'q[]=1&q[]=2',
    'q=%00',
    '__proto__[x]=1',
    'constructor[prototype][x]=1',
  ),
  unicode.map((s) => `q=${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))}`),
  fc.record({
    repeat: fc.constantFrom('a', '%C3%A9', '%F0%9F%92%A5', '%00', '+', 'q=1&'),
    times: fc.integer({ min: 500, max: 6_000 }),
  }),
);

const contentType = fc.constantFrom(
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/jsonx',
  'application/problem+json',
  '*/*',
  ';;;',
);

function bodyRecipe(op: Operation): fc.Arbitrary<BodyRecipe> {
  const fields = Object.keys(op.body?.properties ?? {});
  const field = fields.length ? fc.constantFrom(...fields) : fc.constant('field');
  return fc.oneof(
    fc.constant<BodyRecipe>({ kind: 'none' }),
    fc.record({ kind: fc.constant('wrong-type' as const), field, value: anyValue }),
    fc.record({
      kind: fc.constant('extra-field' as const),
      field: fc.string({ maxLength: 20 }),
      value: anyValue,
    }),
    fc.record({ kind: fc.constant('json' as const), value: anyValue }),
    fc.record({
      kind: fc.constant('raw' as const),
      text: fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.constantFrom(
          '',
          ' ',
          '{',
          '{"a":',
          '[1,2',
          'null',
          '"x"',
          '{"__proto__":{"x":1}}',
          '{"constructor":{"prototype":{"x":1}}}',
          '\u0000',
          '\ufeff{}',
          '{"a":1}{"b":2}',
          'NaN',
        ),
        fc.record({
          repeat: fc.constantFrom('[', '{"a":'),
          times: fc.integer({ min: 1_000, max: 10_000 }),
        }),
      ),
      contentType,
    }),
    fc.record({
      kind: fc.constant('oversized' as const),
      bytes: fc.integer({ min: BODY_LIMIT + 1, max: BODY_LIMIT * 4 }),
    }),
  );
}

const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Auth>({ kind: 'key' }) },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: 'none' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('header' as const),
      value: fc.oneof(
        headerText,
        fc.constantFrom(
          'Bearer',
          'Bearer ',
          'Bearer hk_',
          'Basic Zm9vOmJhcg==',
          'bearer hk_x',
          'Bearer hk_é',
          'Bearer  hk_abcdefgh',
          'Bearer hk_../../',
        ),
        fc.record({
          repeat: fc.constantFrom('A', 'hk_'),
          times: fc.integer({ min: 100, max: 2_000 }),
        }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('unknown-key' as const),
      suffix: fc.stringMatching(/^[A-Za-z0-9_-]{1,200}$/),
    }),
  },
);

const idempotencyKey: fc.Arbitrary<Text | undefined> = fc.oneof(
  fc.constant(undefined),
  headerText,
  fc.constantFrom('', ' x', 'é', 'a b', '\t'),
  fc.record({ repeat: fc.constantFrom('k', 'é'), times: fc.integer({ min: 200, max: 2_000 }) }),
);

function recipe(ops: Operation[]): fc.Arbitrary<Recipe> {
  return fc.nat({ max: ops.length - 1 }).chain((i) => {
    const op = ops[i] as Operation;
    return fc.record({
      op: fc.constant(i),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') },
      ),
      params: fc.tuple(...op.pathParams.map(() => pathParam)),
      // mostly the literal path; otherwise encoded, doubled-slash, dot, case variants of it
      spelling: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.nat({ max: 15 }) },
      ),
      query: fc.option(queryString, { nil: undefined }),
      body:
        op.body || op.method === 'POST'
          ? bodyRecipe(op)
          : fc.constant<BodyRecipe>({ kind: 'none' }),
      auth,
      idempotencyKey: op.method === 'POST' ? idempotencyKey : fc.constant(undefined),
    });
  });
}

interface Built {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function build(r: Recipe, ops: Operation[], base: string, key: string): Built {
  const op = ops[r.op] as Operation;
  let i = 0;
  const literal = fillPath(op.path, () => text(r.params[i++] ?? 'x'));
  const spellings = pathSpellings(literal);
  const path = spellings[r.spelling % spellings.length]?.path ?? literal;
  const url = `${base}${path}${r.query === undefined ? '' : `?${text(r.query)}`}`;
  const headers: Record<string, string> = {};
  if (r.auth.kind === 'key') headers.authorization = `Bearer ${key}`;
  if (r.auth.kind === 'header') headers.authorization = text(r.auth.value);
  if (r.auth.kind === 'unknown-key') headers.authorization = `Bearer hk_${r.auth.suffix}`;
  if (r.idempotencyKey !== undefined) headers['idempotency-key'] = text(r.idempotencyKey);
  let body: string | undefined;
  const b = r.body;
  const json = (v: unknown): void => {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(v);
  };
  if (b.kind === 'wrong-type') json({ ...(sample(op.body) as object), [b.field]: b.value });
  if (b.kind === 'extra-field') json({ ...(sample(op.body) as object), [b.field]: b.value });
  if (b.kind === 'json') json(b.value);
  if (b.kind === 'oversized') json({ ...(sample(op.body) as object), pad: 'x'.repeat(b.bytes) });
  if (b.kind === 'raw') {
    if (b.contentType !== undefined) headers['content-type'] = b.contentType;
    body = text(b.text);
  }
  const method = r.method ?? op.method;
  return { method, url, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body };
}

/**
 * Sends a request with node:http, which sends what fetch would refuse to (Latin-1 header
 * values), and reads the whole answer.
 */
function send(req: Built): Promise<{ status: number; type: string | undefined; body: string }> {
  const url = new URL(req.url);
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        // the raw path and query, as built (no normalisation)
        path: req.url.slice(url.origin.length),
        headers: {
          ...req.headers,
          ...(req.body === undefined ? {} : { 'content-length': Buffer.byteLength(req.body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

// every service behind a route runs, so a valid request is served; billing talks to a local
// fake Stripe
const stripe = await startFakeStripeServer();
afterAll(() => stripe.close());

describe('gateway fuzz: malformed, oversized and wrongly typed requests', () => {
  const system = withSystem({
    database: 'heady_e2e_fuzz',
    services: [
      'conductor',
      'pipeline',
      'vector-memory',
      'workers',
      'knowledge-vault',
      'billing',
      'device-sync',
      'gateway',
    ],
    billing: billingEnvFor(stripe),
    env: {
      HEADY_MEMORY_DIMENSIONS: '64',
      HEADY_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      // the stack's key is Enterprise (unlimited); anonymous callers are not limited
      // either, and nobody is banned: a 429 or 403 BANNED would hide what is under test
      HEADY_ANON_LIMIT: '0',
      HEADY_BAN_THRESHOLD: '0',
    },
  });
  let ops: Operation[];

  beforeAll(async () => {
    ops = (await operationsOf(system.gatewayUrl)).filter((o) => o.path.startsWith('/api'));
  });

  // what the fuzz found first: errors raised before any route answered in Fastify's own JSON
  it('answers refusals raised before any route as problem+json (headers too large, bad URL, long parameter)', async () => {
    const cases: [string, number][] = [
      [`/api/runs?q=${'%C3%A9'.repeat(4_000)}`, 431],
      ['/api/runs/%E0%A4%A', 400],
      [`/api/runs/${'a'.repeat(600)}`, 414],
    ];
    for (const [path, status] of cases) {
      const res = await fetch(`${system.gatewayUrl}${path}`, {
        headers: { authorization: `Bearer ${system.stack.apiKey}` },
      });
      expect(res.status, path.slice(0, 40)).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({
        status,
        type: expect.stringMatching(/^urn:heady:problem:/),
      });
    }
    // a memory session id may be 200 characters: the router lets it through to the handler
    const long = await fetch(`${system.gatewayUrl}/api/memory/sessions/${'s'.repeat(200)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${system.stack.apiKey}` },
    });
    expect(long.status).toBe(200);
  });

  // found by the fuzz: a NUL or an unpaired surrogate reached PostgreSQL and came back as 503
  it('refuses text PostgreSQL cannot store with 422, not 503', async () => {
    const cases: [string, unknown][] = [
      ['/api/brain/chat', { message: 'hi', sessionId: '\u0000' }],
      ['/api/brain/chat', { message: 'a\u0000b' }],
      ['/api/runs', { action: 'echo', input: { text: 'a\u0000b' } }],
      ['/api/runs', { action: 'echo', input: { nested: ['\ud800'] } }],
      ['/api/runs', { action: 'echo', input: { '\u0000': 1 } }],
      ['/api/admin/api-keys', { name: 'a\u0000b' }],
    ];
    for (const [path, body] of cases) {
      const res = await fetch(`${system.gatewayUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${system.stack.apiKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(422);
      expect(await res.json()).toMatchObject({
        code: 'VALIDATION_FAILED',
        detail: expect.stringMatching(/NUL/),
      });
    }
  });

  // 6 s in CI
  it(`answers ${RUNS} hostile requests across every /api route below 500, each error as problem+json`, async () => {
    expect(ops.length).toBeGreaterThanOrEqual(10);
    const statuses = new Map<number, number>();
    const routesHit = new Set<number>();
    await fc.assert(
      fc.asyncProperty(recipe(ops), async (r) => {
        const req = build(r, ops, system.gatewayUrl, system.stack.apiKey);
        const res = await send(req);
        const raw = res.body;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        routesHit.add(r.op);
        const where = `${req.method} ${req.url.slice(0, 200)} → ${res.status} ${raw.slice(0, 300)}`;
        expect(res.status, where).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.type, where).toMatch(/^application\/problem\+json/);
          const p = JSON.parse(raw) as { type?: unknown; title?: unknown; status?: unknown };
          expect(typeof p.type, where).toBe('string');
          expect(typeof p.title, where).toBe('string');
          expect(p.status, where).toBe(res.status);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // the generators reached every route and every kind of refusal the gateway has
    expect(routesHit.size).toBe(ops.length);
    for (const s of [400, 401, 404, 413, 415, 422])
      expect(statuses.get(s), `status ${s}`).toBeGreaterThan(0);
    console.log(
      `fuzz seed ${SEED}: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );
  }, 45_000);
});
