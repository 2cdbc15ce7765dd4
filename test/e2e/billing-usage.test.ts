import { startFakeModelServer, startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, describe, expect, it } from 'vitest';

// Usage metering end to end: runs do model work on a fake provider (which reports its
// tokens), billing's durable consumer of run events records each finished run once, and
// GET /api/billing/usage sums them for the caller's organization only.
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
    const reported = { in: 0, out: 0, tasks: 0 };
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
          execution: { tasks: { promptTokens: number; completionTokens: number }[] };
        }
      ).execution.tasks;
      for (const t of tasks) {
        reported.in += t.promptTokens;
        reported.out += t.completionTokens;
        reported.tasks += 1;
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
