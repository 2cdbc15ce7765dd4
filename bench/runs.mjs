// npm run bench:runs — throughput and latency of the whole pipeline, next to raw JetStream.
//
// Starts its own nats-server (temp dir) and database, then the three services as
// separate processes, exactly as the e2e tests do. Measures, in one run on one machine:
//   1. raw JetStream: async publish + pull-consume-ack of small messages (msgs/s);
//   2. the pipeline: N runs submitted through the gateway with bounded concurrency;
//      runs/s (first submit → last run finished) and per-run latency
//      (finished_at − created_at, both written by the system) p50/p90/p99 — under
//      saturation this is mostly queueing;
//   3. latency at a steady rate below capacity (open loop, --rate runs/s for --seconds).
// Each run is 9 stage commands + ~28 run events + 1 audit event on JetStream, so the
// ratio line compares pipeline messages/s with the raw baseline.
//
// Usage: npm run bench:runs -- [--runs 1000] [--concurrency 64] [--raw 20000]
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { createDb, sql } from '@heady/db';
import { createTestDatabase, startNatsServer, startStack } from '@heady/testing';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    raw: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
  },
});
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const RAW = Number(values.raw);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function rawJetStream(url) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'] });
  await jsm.consumers.add('BENCH', {
    durable_name: 'bench',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 10_000,
  });
  const js = jetstream(nc);
  const payload = new Uint8Array(200);
  let t = performance.now();
  const acks = [];
  for (let i = 0; i < RAW; i++) {
    acks.push(js.publish('bench.x', payload, { msgID: `m-${i}` }));
    if (acks.length >= 1000) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  const pubSecs = (performance.now() - t) / 1000;
  t = performance.now();
  const consumer = await js.consumers.get('BENCH', 'bench');
  const msgs = await consumer.consume({ max_messages: 1000 });
  let n = 0;
  for await (const m of msgs) {
    m.ack();
    if (++n >= RAW) break;
  }
  const conSecs = (performance.now() - t) / 1000;
  await nc.drain();
  return { publish: RAW / pubSecs, consume: RAW / conSecs };
}

async function postRun(base, i) {
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action: ['chat', 'analyze', 'code', 'search'][i % 4], input: { i } }),
  });
  if (res.status !== 202) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
  return /** @type {{ runId: string }} */ (await res.json()).runId;
}

const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench');
let stack;
try {
  process.stdout.write(
    `machine: ${(await import('node:os')).cpus().length} cores, node ${process.version}\n`,
  );
  const raw = await rawJetStream(nats.url);
  process.stdout.write(
    `raw JetStream (${fmt(RAW)} msgs of 200 B): publish ${fmt(raw.publish)} msg/s, consume+ack ${fmt(raw.consume)} msg/s\n`,
  );

  stack = await startStack({ natsUrl: nats.url, databaseUrl: pg.url, env: { LOG_LEVEL: 'warn' } });
  const base = stack.gatewayUrl;
  // warm up (JIT, pools, consumers), excluded from every figure
  const warm = await Promise.all(Array.from({ length: 50 }, (_, i) => postRun(base, i)));

  const db = createDb({ url: pg.url, poolMax: 2 });
  const latencies = async (ids) =>
    (
      await db
        .selectFrom('pipeline_runs')
        .select(sql`extract(epoch from (finished_at - created_at)) * 1000`.as('ms'))
        .where('id', 'in', ids)
        .execute()
    )
      .map((r) => Number(r.ms))
      .sort((a, b) => a - b);
  const waitAll = async (ids) => {
    for (;;) {
      const r = await db
        .selectFrom('pipeline_runs')
        .select(sql`count(*)::int`.as('n'))
        .where('id', 'in', ids)
        .where('finished_at', 'is not', null)
        .executeTakeFirst();
      if (/** @type {number} */ (r?.n) >= ids.length) return;
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  await waitAll(warm);
  // open loop at a steady rate below capacity: what a single run costs end to end
  const steady = [];
  const tStart = performance.now();
  const pending = [];
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = tStart + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(postRun(base, i).then((id) => steady.push(id)));
  }
  await Promise.all(pending);
  await waitAll(steady);
  const lo = await latencies(steady);
  process.stdout.write(
    `steady ${RATE} runs/s for ${SECONDS} s (${steady.length} runs): latency p50 ${fmt(pct(lo, 50))} ms  p90 ${fmt(pct(lo, 90))} ms  p99 ${fmt(pct(lo, 99))} ms\n`,
  );

  const since = new Date();
  const t0 = performance.now();
  const ids = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < RUNS) {
        const i = next++;
        ids.push(await postRun(base, i));
      }
    }),
  );
  const submitSecs = (performance.now() - t0) / 1000;
  // wait until every run is terminal
  for (;;) {
    const r = await db
      .selectFrom('pipeline_runs')
      .select(sql`count(*)::int`.as('n'))
      .where('created_at', '>=', since)
      .where('status', 'in', ['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'])
      .executeTakeFirst();
    if (/** @type {number} */ (r?.n) >= RUNS) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const rows = await db
    .selectFrom('pipeline_runs')
    .select([
      'status',
      sql`extract(epoch from (finished_at - created_at)) * 1000`.as('ms'),
      'created_at',
      'finished_at',
    ])
    .where('id', 'in', ids)
    .execute();
  await db.destroy();
  const first = Math.min(...rows.map((r) => r.created_at.getTime()));
  const last = Math.max(...rows.map((r) => /** @type {Date} */ (r.finished_at).getTime()));
  const secs = (last - first) / 1000;
  const lat = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  const ok = rows.filter((r) => r.status === 'SUCCEEDED').length;
  const runsPerSec = RUNS / secs;
  const msgsPerRun = 9 + 28 + 1;
  process.stdout.write(
    [
      `pipeline: ${fmt(RUNS)} runs (${ok} SUCCEEDED), ${CONCURRENCY} clients; submitted in ${fmt(submitSecs, 2)} s (${fmt(RUNS / submitSecs)} POST/s)`,
      `pipeline: ${fmt(runsPerSec, 1)} runs/s (first created → last finished: ${fmt(secs, 2)} s)`,
      `latency per run (created → finished): p50 ${fmt(pct(lat, 50))} ms  p90 ${fmt(pct(lat, 90))} ms  p99 ${fmt(pct(lat, 99))} ms  max ${fmt(lat.at(-1))} ms`,
      `ratio: pipeline moves ~${fmt(runsPerSec * msgsPerRun)} JetStream msgs/s (~${msgsPerRun}/run) = ${fmt(((runsPerSec * msgsPerRun) / raw.publish) * 100, 1)}% of raw publish throughput`,
    ].join('\n') + '\n',
  );
} finally {
  await stack?.stop();
  await pg.drop();
  await nats.stop();
}
