import {
  type Classification,
  type Plan,
  ROLES,
  ROLE_CLEARANCE,
  type Role,
  clears,
} from '@heady/db';
import { withGateway } from '@heady/testing/fixtures';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Operation, fillPath, operationsOf, sample } from './openapi-ops.js';

// Every role of every plan × every /api route, over real HTTP to the gateway process. The
// routes and their access classes and plans come from the OpenAPI document, which reads
// them from the route metadata the access guard enforces: nothing here lists them by hand.
// A refused caller gets 403 problem+json exactly when its clearance is below the route's
// class or its plan is not one the route is reserved for; anyone else gets past the door
// (whatever the route then answers: 2xx, 404, 422, or 503 with no service behind it).
describe('gateway access matrix: role × plan × route', () => {
  const system = withGateway({
    database: 'heady_e2e_matrix',
    // limits raised by configuration so a 429 never hides an access decision
    env: {
      HEADY_PLAN_FREE_LIMIT: '100000',
      HEADY_PLAN_PRO_LIMIT: '100000',
      HEADY_ANON_LIMIT: '0',
    },
  });
  let ops: Operation[];
  const callers: { role: Role; plan: Plan; key: string }[] = [];

  beforeAll(async () => {
    for (const plan of ['FREE', 'PRO', 'ENTERPRISE'] as const)
      for (const role of ROLES)
        callers.push({
          role,
          plan,
          key: await system.createKey({
            org: `matrix-${plan.toLowerCase()}`,
            plan,
            role,
            name: role,
          }),
        });
    ops = (await operationsOf(system.gatewayUrl)).filter((o) => o.path.startsWith('/api'));
  });

  async function call(
    op: Operation,
    key: string | undefined,
  ): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
    const query = op.query
      .filter((q) => q.required)
      .map((q) => `${q.name}=x`)
      .join('&');
    const url = `${system.gatewayUrl}${fillPath(op.path, () => randomUUID())}${query ? `?${query}` : ''}`;
    const res = await fetch(url, {
      method: op.method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(op.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(op.body ? { body: JSON.stringify(sample(op.body)) } : {}),
    });
    // the events route streams on success: only its head matters here
    const text = res.headers.get('content-type')?.startsWith('text/event-stream')
      ? (await res.body?.cancel(), '')
      : await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON (an allowed route may answer anything)
    }
    return { status: res.status, type: res.headers.get('content-type'), body };
  }

  it('derives every /api route with a known access class from the document', () => {
    expect(ops.length).toBeGreaterThanOrEqual(10);
    for (const op of ops)
      expect(
        ['PUBLIC', 'INTERNAL', 'PROPRIETARY', 'RESTRICTED'],
        `${op.method} ${op.path}`,
      ).toContain(op.accessClass);
    // the matrix has both outcomes in it: something refused, something let through
    const classes = new Set(ops.map((o) => o.accessClass));
    expect(classes.size).toBeGreaterThanOrEqual(3);
    expect(ops.some((o) => o.requiredPlans)).toBe(true);
  });

  it('refuses with 403 problem+json exactly when clearance or plan falls short', async () => {
    const outcomes: string[] = [];
    for (const op of ops) {
      const cls = op.accessClass as Classification;
      for (const c of callers) {
        const where = `${c.plan} ${c.role} (${ROLE_CLEARANCE[c.role]}) → ${op.method} ${op.path} [${cls}${op.requiredPlans ? ` ${op.requiredPlans.join('|')}` : ''}]`;
        const belowClass = !clears(ROLE_CLEARANCE[c.role], cls);
        const wrongPlan = !!op.requiredPlans && !op.requiredPlans.includes(c.plan);
        const r = await call(op, c.key);
        if (belowClass || wrongPlan) {
          expect(r.status, where).toBe(403);
          expect(r.type, where).toMatch(/^application\/problem\+json/);
          expect(r.body, where).toMatchObject({
            status: 403,
            code: 'FORBIDDEN',
            type: expect.any(String),
            title: expect.any(String),
          });
          // the refusal names what fell short: the class first, else the plan
          if (belowClass)
            expect(r.body, where).toMatchObject({
              required: cls,
              clearance: ROLE_CLEARANCE[c.role],
            });
          else
            expect(r.body, where).toMatchObject({
              requiredPlan: op.requiredPlans?.[0],
              plan: c.plan,
            });
          outcomes.push('refused');
        } else {
          expect([401, 403], `${where}: ${r.status} ${JSON.stringify(r.body)}`).not.toContain(
            r.status,
          );
          outcomes.push('allowed');
        }
      }
    }
    expect(outcomes).toContain('refused');
    expect(outcomes).toContain('allowed');
  });

  it('asks anonymous callers for a key (401) on every route above PUBLIC, and never answers them 403', async () => {
    for (const op of ops) {
      const r = await call(op, undefined);
      const where = `anonymous → ${op.method} ${op.path} [${op.accessClass}]`;
      expect(r.status, where).not.toBe(403);
      if (op.accessClass !== 'PUBLIC') {
        expect(r.status, where).toBe(401);
        expect(r.type, where).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it('tells each key who it is at GET /api/whoami', async () => {
    for (const c of callers) {
      const res = await fetch(`${system.gatewayUrl}/api/whoami`, {
        headers: { authorization: `Bearer ${c.key}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        organization: { name: `matrix-${c.plan.toLowerCase()}` },
        plan: c.plan,
        role: c.role,
        clearance: ROLE_CLEARANCE[c.role],
        key: { prefix: c.key.slice(0, 11) },
      });
    }
  });
});
