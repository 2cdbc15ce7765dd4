// pnpm bench:billing — billing on Stripe (issue 18), in one run:
//  1. webhook handling: signed Stripe events posted to the gateway's /api/billing/webhook
//     (raw body → billing → SDK constructEvent → stored once → applied), events/s and latency
//     percentiles at a fixed concurrency;
//  2. the budget step's added admission latency: POST /api/runs → 202 for an organization
//     with a budget (the conductor reserves with billing first) vs one without, interleaved.
//   --events 2000 --concurrency 16 --orgs 32 --runs 200
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { createApiKey, createDb, ensureOrganization } from '@heady/db';
import {
  billingEnvFor,
  createTestDatabase,
  startFakeStripeServer,
  startNatsServer,
  startStack,
} from '@heady/testing';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    runs: { type: 'string', default: '200' },
    orgs: { type: 'string', default: '32' },
  },
});
const ORGS = Number(values.orgs);
const EVENTS = Number(values.events);
const CONCURRENCY = Number(values.concurrency);
const RUNS = Number(values.runs);
const out = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const summary = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${fmt(pct(s, 50), 1)} ms, p90 ${fmt(pct(s, 90), 1)} ms, p99 ${fmt(pct(s, 99), 1)} ms`;
};

const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_billing');
const stripe = await startFakeStripeServer();
let stack;
try {
  out(`machine: ${cpus().length} cores, node ${process.version}`);
  stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['conductor', 'billing', 'gateway'],
    // anonymous callers (Stripe) and Enterprise keys unlimited: the limiter is not under test
    env: { HEADY_ANON_LIMIT: '0', HEADY_BAN_THRESHOLD: '0', LOG_LEVEL: 'warn' },
    billing: { ...billingEnvFor(stripe), HEADY_BUDGET_RUN_ESTIMATE_USD: '0.000001' },
  });
  const db = createDb({ url: pg.url, poolMax: 2 });
  const budgeted = await ensureOrganization(db, 'bench-budgeted', 'ENTERPRISE');
  const free = await ensureOrganization(db, 'bench-unbudgeted', 'ENTERPRISE');
  await db
    .insertInto('org_budgets')
    .values({
      org_id: budgeted.id,
      monthly_credits_micros: 1e12,
      period_start: `${new Date().toISOString().slice(0, 7)}-01`,
    })
    .execute();
  const keyOf = async (orgId) =>
    (await createApiKey(db, { orgId, name: 'bench', role: 'admin' })).key;
  const keys = { budgeted: await keyOf(budgeted.id), unbudgeted: await keyOf(free.id) };

  // 1. webhooks: distinct events, subscription updates spread over ORGS organizations (one
  //    organization's events apply one at a time, under its row lock), newer each time
  const orgs = [];
  for (let i = 0; i < ORGS; i++) orgs.push((await ensureOrganization(db, `bench-hook-${i}`)).id);
  const base = Math.floor(Date.now() / 1000);
  const events = Array.from({ length: EVENTS }, (_, i) =>
    stripe.signedEvent(
      'customer.subscription.updated',
      {
        id: `sub_bench_${i % ORGS}`,
        object: 'subscription',
        customer: 'cus_bench',
        status: 'active',
        created: base,
        cancel_at_period_end: i % 2 === 1,
        canceled_at: null,
        ended_at: null,
        cancel_at: null,
        metadata: { orgId: orgs[i % ORGS] },
        items: { object: 'list', data: [{ id: 'si', price: { id: 'price_heady_pro' } }] },
      },
      { created: base + i },
    ),
  );
  const post = async (e) => {
    const t = performance.now();
    const res = await fetch(`${stack.gatewayUrl}/api/billing/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': e.signature },
      body: e.payload,
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    return performance.now() - t;
  };
  for (const e of events.slice(0, 20)) await post(e); // warm-up (keys, connections)
  const latencies = [];
  let next = 20;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events.length) latencies.push(await post(events[next++]));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  out(
    `\nwebhooks (signed, verified, stored once, applied), ${fmt(latencies.length)} events over ${ORGS} organizations at concurrency ${CONCURRENCY}: ${fmt(latencies.length / seconds)} events/s; ${summary(latencies)}`,
  );

  // 2. admission with and without a budget, interleaved so both see the same machine
  const admit = async (key) => {
    const t = performance.now();
    const res = await fetch(`${stack.gatewayUrl}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ action: 'analyze', input: { n: 1 } }),
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`POST /api/runs answered ${res.status}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 10; i++) {
    await admit(keys.budgeted);
    await admit(keys.unbudgeted);
  }
  const withBudget = [];
  const without = [];
  for (let i = 0; i < RUNS; i++) {
    withBudget.push(await admit(keys.budgeted));
    without.push(await admit(keys.unbudgeted));
  }
  const median = (xs) =>
    pct(
      [...xs].sort((a, b) => a - b),
      50,
    );
  out(`\nadmission (POST /api/runs → 202), ${RUNS} each, sequential, interleaved:`);
  out(`  no budget:   ${summary(without)}`);
  out(`  with budget: ${summary(withBudget)}`);
  out(
    `  the reservation step adds ${fmt(median(withBudget) - median(without), 1)} ms at the median`,
  );
  await db.destroy();
} finally {
  await stack?.stop();
  await stripe.close();
  await pg.drop();
  await nats.stop();
}
