import { startFakeModelServer, startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, describe, expect, it } from 'vitest';
import { TERMINAL } from './helpers.js';

// Monthly budgets end to end: the conductor reserves each run's estimated cost with
// billing before it answers (so a refusal is the client's 402), the run's final event
// settles the reservation (a succeeded run commits its cost, a compensated one releases it).
const fake = await startFakeModelServer();
const stripe = await startFakeStripeServer();
afterAll(async () => {
  await fake.close();
  await stripe.close();
});

const ESTIMATE_USD = 0.01;
const FITS = 10;
const CONCURRENT = 50;

describe('budgets at admission', () => {
  const system = withSystem({
    database: 'heady_e2e_billing_budgets',
    services: ['conductor', 'pipeline', 'workers', 'billing', 'gateway'],
    env: {
      HEADY_FAULTS: '1',
      HEADY_RPC_TIMEOUT_MS: '30000',
      HEADY_PROVIDERS: JSON.stringify([
        {
          name: 'primary',
          kind: 'openai-compatible',
          baseUrl: fake.openaiBaseURL,
          model: 'fake-1',
        },
      ]),
    },
    billing: {
      STRIPE_SECRET_KEY: stripe.secretKey,
      HEADY_STRIPE_API_URL: stripe.url,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      HEADY_BUDGET_RUN_ESTIMATE_USD: String(ESTIMATE_USD),
    },
    keys: { acme: { org: 'acme', plan: 'ENTERPRISE', role: 'admin' } },
  });

  const budget = async (orgId: string) =>
    system.db
      .selectFrom('org_budgets')
      .select(['committed_micros', 'reserved_micros'])
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();

  const waitEnded = async (ids: string[]): Promise<Map<string, string>> => {
    const deadline = Date.now() + 60_000;
    const ended = new Map<string, string>();
    while (Date.now() < deadline && ended.size < ids.length) {
      const rows = await system.db
        .selectFrom('pipeline_runs')
        .select(['id', 'status'])
        .where('id', 'in', ids)
        .execute();
      for (const r of rows) if (TERMINAL.has(r.status)) ended.set(r.id, r.status);
      if (ended.size < ids.length) await new Promise((r) => setTimeout(r, 250));
    }
    return ended;
  };

  /** Waits until no reservation of the organization is open (every final event settled). */
  const waitSettled = async (orgId: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const open = await system.db
        .selectFrom('budget_reservations')
        .select('run_id')
        .where('org_id', '=', orgId)
        .where('status', '=', 'RESERVED')
        .execute();
      if (!open.length) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('reservations still open');
  };

  it('admits exactly the runs the budget holds, refuses the rest with 402, and settles each once', async () => {
    const org = await system.db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', 'acme')
      .executeTakeFirstOrThrow();
    // the operator sets the month's budget with the CLI
    expect(await system.heady(['billing', 'budget', 'acme', String(FITS * ESTIMATE_USD)])).toEqual({
      org: 'acme',
      monthlyUsd: FITS * ESTIMATE_USD,
    });

    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        system.request('POST', '/api/runs', {
          key: system.keys.acme,
          body: { action: 'chat', input: { message: `budgeted question ${i}` } },
        }),
      ),
    );
    const admitted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 402);
    expect(
      admitted,
      JSON.stringify(
        answers.filter((a) => a.status !== 402 && a.status !== 202).map((a) => [a.status, a.text]),
      ),
    ).toHaveLength(FITS);
    expect(refused).toHaveLength(CONCURRENT - FITS);
    expect(refused[0]?.type).toContain('application/problem+json');
    expect(refused[0]?.json).toMatchObject({
      code: 'BUDGET_EXHAUSTED',
      status: 402,
      creditsUsd: FITS * ESTIMATE_USD,
      estimateUsd: ESTIMATE_USD,
    });
    // refused runs were never stored
    expect(await system.db.selectFrom('pipeline_runs').select('id').execute()).toHaveLength(FITS);

    const ids = admitted.map((a) => a.json.runId as string);
    const ended = await waitEnded(ids);
    expect([...ended.values()].every((s) => s === 'SUCCEEDED')).toBe(true);
    await waitSettled(org.id);
    const costs = await system.db
      .selectFrom('usage_records')
      .select(['run_id', 'cost_micros'])
      .where('run_id', 'in', ids)
      .execute();
    expect(costs).toHaveLength(FITS);
    const spent = costs.reduce((n, c) => n + Number(c.cost_micros), 0);
    expect(spent).toBeGreaterThan(0);
    const after = await budget(org.id);
    expect(Number(after.committed_micros) + Number(after.reserved_micros)).toBe(spent);
    expect(Number(after.reserved_micros)).toBe(0);

    // a compensated run gives its whole reservation back
    const doomed = await system.request('POST', '/api/runs', {
      key: system.keys.acme,
      body: {
        action: 'chat',
        input: { message: 'this one fails at finalize' },
        options: { faults: [{ stage: 'finalize', mode: 'permanent' }] },
      },
    });
    expect(doomed.status, doomed.text).toBe(202);
    const doomedId = doomed.json.runId as string;
    expect((await waitEnded([doomedId])).get(doomedId)).toBe('COMPENSATED');
    await waitSettled(org.id);
    const reservation = await system.db
      .selectFrom('budget_reservations')
      .selectAll()
      .where('run_id', '=', doomedId)
      .executeTakeFirstOrThrow();
    expect(reservation).toMatchObject({ status: 'RELEASED', committed_micros: '0' });
    const final = await budget(org.id);
    expect(final).toEqual({ committed_micros: String(spent), reserved_micros: '0' });
    expect(await system.heady(['billing', 'show', 'acme'])).toMatchObject({
      plan: 'ENTERPRISE',
      budget: { monthlyUsd: FITS * ESTIMATE_USD, committedUsd: spent / 1e6, reservedUsd: 0 },
      usageThisMonth: { runs: FITS + 1 },
    });
  }, 120_000);
});
