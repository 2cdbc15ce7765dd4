// npm run bench:scale — does splitting the stages across processes work? Runs/s of the same
// load with the nine stages in one pipeline process, then split across three processes of
// three stages each (HEADY_PIPELINE_STAGES, as the per-stage Deployments of deploy/k8s run
// them), one after the other in one invocation on this machine.
//
// Each layout gets its own stack (conductor, pipeline process(es), vector-memory, workers,
// gateway as separate processes) on one nats-server and a fresh database; 30 warm-up runs
// are left out of the figures.
//
// Usage: npm run bench:scale -- [--runs 300] [--concurrency 32]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { STAGE_NAMES } from '@heady/contracts';
import { createDb, sql } from '@heady/db';
import { createTestDatabase, startNatsServer, startStack } from '@heady/testing';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '32' },
  },
});
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const LAYOUTS = [
  { name: 'one process, nine stages', pipelines: [{ HEADY_PIPELINE_STAGES: 'all' }] },
  {
    name: 'three processes, three stages each',
    pipelines: [0, 3, 6].map((i, n) => ({
      HEADY_PIPELINE_STAGES: STAGE_NAMES.slice(i, i + 3).join(','),
      HEADY_INSTANCE_ID: `pipeline-${n}`,
    })),
  },
];

async function postRun(base, key, i) {
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ action: ['chat', 'analyze', 'code', 'search'][i % 4], input: { i } }),
  });
  if (res.status !== 202) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
  return /** @type {{ runId: string }} */ (await res.json()).runId;
}

/** Submits `count` runs with CONCURRENCY clients and waits until all are terminal. */
async function load(stack, db, count, offset) {
  const ids = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        ids.push(await postRun(stack.gatewayUrl, stack.apiKey, offset + i));
      }
    }),
  );
  for (;;) {
    const r = await db
      .selectFrom('pipeline_runs')
      .select(sql`count(*)::int`.as('n'))
      .where('id', 'in', ids)
      .where('finished_at', 'is not', null)
      .executeTakeFirst();
    if (/** @type {number} */ (r?.n) >= ids.length) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const rows = await db
    .selectFrom('pipeline_runs')
    .select(['status', 'created_at', 'finished_at'])
    .where('id', 'in', ids)
    .execute();
  const first = Math.min(...rows.map((r) => r.created_at.getTime()));
  const last = Math.max(...rows.map((r) => /** @type {Date} */ (r.finished_at).getTime()));
  return {
    runsPerSec: count / ((last - first) / 1000),
    ok: rows.filter((r) => r.status === 'SUCCEEDED').length,
  };
}

const nats = await startNatsServer();
const results = [];
try {
  process.stdout.write(`machine: ${cpus().length} cores, node ${process.version}\n`);
  for (const [n, layout] of LAYOUTS.entries()) {
    const pg = await createTestDatabase(`heady_bench_scale_${n}`);
    const db = createDb({ url: pg.url, poolMax: 2 });
    let stack;
    try {
      stack = await startStack({
        natsUrl: nats.url,
        databaseUrl: pg.url,
        env: { LOG_LEVEL: 'warn' },
        pipelines: layout.pipelines,
      });
      await load(stack, db, 30, 0);
      const r = await load(stack, db, RUNS, 1000);
      results.push({ layout: layout.name, ...r });
      process.stdout.write(
        `${layout.name}: ${fmt(r.runsPerSec, 1)} runs/s (${RUNS} runs, ${r.ok} SUCCEEDED, ${CONCURRENCY} clients)\n`,
      );
    } finally {
      await stack?.stop();
      await db.destroy();
      await pg.drop();
    }
  }
  const [one, three] = results;
  process.stdout.write(
    `split/one: ${fmt((three.runsPerSec / one.runsPerSec) * 100, 0)}% (${fmt(three.runsPerSec, 1)} vs ${fmt(one.runsPerSec, 1)} runs/s)\n`,
  );
} finally {
  await nats.stop();
}
