import { startFakeModelServer, startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, describe, expect, it } from 'vitest';

// Usage metering end to end: runs do model work on a fake provider (which reports its
// tokens), billing's durable consumer of run events records each finished run once, and
// GET /api/billing/usage sums them for the caller's organization only; the usage of a
// metered plan reaches the fake Stripe as meter events once each, even when billing is
// SIGKILLed while it reports.
const fake = await startFakeModelServer();
const stripe = await startFakeStripeServer();
afterAll(async () => {
  await fake.close();
  await stripe.close();
});

const RUNS = 3;

describe('usage metering', () => {
  const system = withSystem({
    database: 'heady_e2e_billing_usage',
    services: ['conductor', 'pipeline', 'workers', 'billing', 'gateway'],
    env: {
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
      HEADY_STRIPE_METERED_PLANS: 'ENTERPRISE',
      HEADY_BILLING_SWEEP_MS: '300',
    },
    keys: {
      acme: { org: 'acme', plan: 'ENTERPRISE', role: 'admin' },
      globex: { org: 'globex', plan: 'ENTERPRISE', role: 'member' },
    },
  });

  const usage = (key: string, groupBy: string) => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    return system.request(
      'GET',
      `/api/billing/usage?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&groupBy=${groupBy}`,
      { key },
    );
  };

  it('records each finished run once and sums the tokens the provider reported, per organization', async () => {
    fake.respond(() => ({ tokens: ['one', ' two', ' three'] }));
    // a checkout gives acme its Stripe customer; meter events are answered slowly, so the
    // SIGKILL below lands while they are in flight
    const checkout = await system.request('POST', '/api/billing/checkout', {
      key: system.keys.acme,
      body: {
        plan: 'PRO',
        successUrl: 'https://app.example/ok',
        cancelUrl: 'https://app.example/no',
      },
    });
    expect(checkout.status, checkout.text).toBe(200);
    stripe.meterLatencyMs = 3_000;
    const reported = { in: 0, out: 0, tasks: 0, costMicros: 0 };
    for (let i = 0; i < RUNS; i++) {
      const res = await system.request('POST', '/api/brain/chat?wait=true', {
        key: system.keys.acme,
        body: { message: `question number ${i} for the fake provider` },
      });
      expect(res.status, res.text).toBe(200);
      const run = await system.request('GET', `/api/runs/${res.json.runId as string}`, {
        key: system.keys.acme,
      });
      const tasks = (
        run.json.result as {
          execution: {
            tasks: { promptTokens: number; completionTokens: number; costMicros: number }[];
          };
        }
      ).execution.tasks;
      for (const t of tasks) {
        reported.in += t.promptTokens;
        reported.out += t.completionTokens;
        reported.tasks += 1;
        reported.costMicros += t.costMicros;
      }
    }
    expect(reported.in).toBeGreaterThan(0);
    expect(reported.out).toBeGreaterThan(0);

    let total: Record<string, number> = {};
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const r = await usage(system.keys.acme, 'model');
      expect(r.status, r.text).toBe(200);
      total = r.json.total as Record<string, number>;
      if (total.runs === RUNS) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(total).toMatchObject({
      runs: RUNS,
      tasks: reported.tasks,
      tokensIn: reported.in,
      tokensOut: reported.out,
    });
    // no price for primary/fake-1: the '*' row, $1 in and $2 out per million tokens
    expect(total.costUsd).toBeCloseTo((reported.in * 1 + reported.out * 2) / 1e6, 9);
    // each task's cost in the run's result is the same price table's
    expect(reported.costMicros).toBe(reported.in * 1 + reported.out * 2);
    const byModel = await usage(system.keys.acme, 'model');
    expect((byModel.json.rows as { key: string }[]).map((r) => r.key)).toEqual(['primary/fake-1']);
    const byAction = await usage(system.keys.acme, 'action');
    expect(
      (byAction.json.rows as { key: string; runs: number }[]).map((r) => [r.key, r.runs]),
    ).toEqual([['chat', RUNS]]);

    // exactly once per run, each announced on billing.usage (published_at: JetStream acked it)
    const rows = await system.db
      .selectFrom('usage_records')
      .select(['run_id', 'published_at'])
      .execute();
    expect(rows).toHaveLength(RUNS);
    expect(rows.every((r) => r.published_at !== null)).toBe(true);

    // billing dies while its meter events are in flight; the restarted one resends them with
    // the same idempotency keys and Stripe answers with the first events
    const billing = system.stack.services.billing;
    const inFlight = Date.now() + 15_000;
    while (!stripe.meterEvents.length && Date.now() < inFlight)
      await new Promise((res) => setTimeout(res, 50));
    expect(stripe.meterEvents.length).toBeGreaterThan(0);
    await billing.kill('SIGKILL');
    stripe.meterLatencyMs = 0;
    await billing.start();
    const metered = Date.now() + 20_000;
    let unmetered = RUNS;
    while (unmetered && Date.now() < metered) {
      unmetered = (
        await system.db
          .selectFrom('usage_records')
          .select('run_id')
          .where('metered_at', 'is', null)
          .execute()
      ).length;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(unmetered).toBe(0);
    const byRun = new Map<string, number>();
    for (const e of stripe.meterEvents)
      byRun.set(e.identifier as string, (byRun.get(e.identifier as string) ?? 0) + 1);
    expect(byRun.size).toBe(RUNS);
    expect([...byRun.values()].every((n) => n === 1)).toBe(true);
    const value = stripe.meterEvents.reduce(
      (n, e) => n + Number((e.payload as { value: string }).value),
      0,
    );
    expect(value).toBe(reported.in + reported.out);
    expect(stripe.meterEvents.every((e) => e.event_name === 'heady_tokens')).toBe(true);
    // the restarted process did resend: Stripe answered those from its idempotency store
    expect(
      stripe.requests.filter((r) => r.path === '/v1/billing/meter_events' && r.replayed).length,
    ).toBeGreaterThan(0);

    // another organization sees none of it
    const other = await usage(system.keys.globex, 'day');
    expect(other.status).toBe(200);
    expect(other.json.rows).toEqual([]);
    expect((other.json.total as Record<string, number>).runs).toBe(0);

    // bad ranges are a clear 422
    const bad = await system.request(
      'GET',
      '/api/billing/usage?from=yesterday&to=now&groupBy=week',
      { key: system.keys.acme },
    );
    expect(bad.status).toBe(422);
  });
});
