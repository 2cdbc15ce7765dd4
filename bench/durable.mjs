// npm run bench:durable — what the durable-run machinery costs, and how fast runs recover
// after the pipeline process is SIGKILLed.
//
// Starts its own nats-server (temp dir) and database, then the services as separate
// processes (one pipeline process consuming all nine stages, HEADY_FAULTS=1), exactly as
// the e2e tests do, and measures in one run on one machine:
//   A. cost, against the BASELINE = plain runs (the foundation's run: nine stages, no fault,
//      each stage's attempt row, its work+SUCCEEDED mark in one transaction, events):
//        - retry:       every run has one transient fault (one stage fails its first attempt
//                       and is retried after the stage's first backoff, 250 ms);
//        - compensated: every run fails permanently at its last stage (monitor), so the
//                       eight completed stages are undone in reverse, each exactly once.
//      Each mode: latency at a steady rate below capacity (open loop), and throughput
//      with --concurrency clients submitting --runs runs as fast as they can.
//   B. recovery after SIGKILL: under a steady load, the pipeline process is SIGKILLed and
//      restarted at once, --kills times; per kill: the time until it is ready again, until
//      the first stage completes after the kill, and until every run in flight at the kill
//      has finished. In-flight deliveries come back after the stage ack wait (--ack-wait).
//
// Usage: npm run bench:durable -- [--rate 2] [--seconds 10] [--runs 200] [--concurrency 32]
//                           [--rounds 2] [--kills 3] [--ack-wait 5000]
// The three modes run in turn, --rounds times (interleaved, so load from elsewhere on the
// machine hits them alike); each figure is the median over the rounds.
import { parseArgs } from 'node:util';
import { STAGE_NAMES } from '@heady/contracts';
import { createDb, sql } from '@heady/db';
import { createTestDatabase, startNatsServer, startStack } from '@heady/testing';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    kills: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    'ack-wait': { type: 'string', default: '5000' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const KILLS = Number(values.kills);
const ROUNDS = Number(values.rounds);
const ACK_WAIT = Number(values['ack-wait']);

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) =>
  pct(
    [...xs].sort((a, b) => a - b),
    50,
  );
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (line) => process.stdout.write(`${line}\n`);
// the machine's PostgreSQL is shared: a poll that meets "too many clients" is tried again
const retrying = async (fn) => {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= 50) throw e;
      await sleep(200);
    }
  }
};

const STAGES = STAGE_NAMES;
const MODES = {
  baseline: () => ({}),
  retry: (i) => ({ faults: [{ stage: STAGES[i % STAGES.length], mode: 'transient' }] }),
  compensated: () => ({ faults: [{ stage: 'monitor', mode: 'permanent' }] }),
};

// set when the benchmark ends: the load loop's POSTs stop retrying
let closing = false;
const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_durable');
let stack;
try {
  out(`machine: ${(await import('node:os')).cpus().length} cores, node ${process.version}`);
  stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['conductor', 'pipeline', 'gateway'],
    env: { LOG_LEVEL: 'warn', HEADY_FAULTS: '1', HEADY_STAGE_ACK_WAIT_MS: String(ACK_WAIT) },
  });
  const base = stack.gatewayUrl;
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const db = createDb({ url: pg.url, poolMax: 2 });

  const postRun = async (i, options) => {
    while (!closing) {
      const res = await fetch(`${base}/api/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({
          action: ['chat', 'analyze', 'code', 'search'][i % 4],
          input: { i },
          options,
        }),
      }).catch(() => undefined);
      if (res?.status === 202) return /** @type {{ runId: string }} */ (await res.json()).runId;
      await sleep(200);
    }
    return undefined;
  };
  /** @type {import('@heady/db').RunStatus[]} */
  const terminal = ['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'];
  const waitAll = async (ids) => {
    while (ids.length) {
      const r = await retrying(() =>
        db
          .selectFrom('pipeline_runs')
          .select(sql`count(*)::int`.as('n'))
          .where('id', 'in', ids)
          .where('status', 'in', terminal)
          .executeTakeFirst(),
      );
      if (/** @type {number} */ (r?.n) >= ids.length) return;
      await sleep(50);
    }
  };
  const runRows = (ids) =>
    retrying(() =>
      db
        .selectFrom('pipeline_runs')
        .select([
          'status',
          'created_at',
          'finished_at',
          sql`extract(epoch from (finished_at - created_at)) * 1000`.as('ms'),
        ])
        .where('id', 'in', ids)
        .execute(),
    );

  // open loop at RATE runs/s for SECONDS: what one run costs end to end
  const steady = async (mode) => {
    const ids = [];
    const pending = [];
    const t0 = performance.now();
    for (let i = 0; i < RATE * SECONDS; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(postRun(i, MODES[mode](i)).then((id) => ids.push(id)));
    }
    await Promise.all(pending);
    await waitAll(ids);
    const rows = await runRows(ids);
    const lat = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    return { p50: pct(lat, 50), p90: pct(lat, 90), statuses: new Set(rows.map((r) => r.status)) };
  };
  // RUNS runs by CONCURRENCY clients as fast as they go: runs/s first created → last finished
  const saturated = async (mode) => {
    const ids = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < RUNS) {
          const i = next++;
          ids.push(await postRun(i, MODES[mode](i)));
        }
      }),
    );
    await waitAll(ids);
    const rows = await runRows(ids);
    const first = Math.min(...rows.map((r) => r.created_at.getTime()));
    const last = Math.max(...rows.map((r) => r.finished_at.getTime()));
    return RUNS / ((last - first) / 1000);
  };

  // warm up (JIT, pools, consumers, signing), excluded from every figure
  const warm = [];
  for (let i = 0; i < 30; i++) warm.push(await postRun(i, i % 2 ? MODES.retry(i) : {}));
  await waitAll(warm);

  out(
    `A. cost of the durable machinery — baseline: plain runs (the foundation's run: 9 stages, no fault); same stack, one pipeline process`,
  );
  out(
    `   steady: ${RATE} runs/s for ${SECONDS} s (open loop); saturated: ${RUNS} runs, ${CONCURRENCY} clients; median of ${ROUNDS} interleaved rounds`,
  );
  /** @type {Record<string, { p50: number, p90: number, rps: number, statuses: Set<string> }[]>} */
  const rounds = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of Object.keys(MODES)) {
      const s = await steady(mode);
      rounds[mode].push({ ...s, rps: await saturated(mode) });
    }
  const results = {};
  for (const mode of Object.keys(MODES)) {
    const rs = rounds[mode];
    const s = {
      p50: median(rs.map((x) => x.p50)),
      p90: median(rs.map((x) => x.p90)),
      rps: median(rs.map((x) => x.rps)),
      statuses: new Set(rs.flatMap((x) => [...x.statuses])),
    };
    results[mode] = s;
    const b = results.baseline;
    out(
      `   ${mode.padEnd(12)} p50 ${fmt(s.p50).padStart(6)} ms  p90 ${fmt(s.p90).padStart(6)} ms  ${fmt(s.rps, 1).padStart(6)} runs/s` +
        (mode === 'baseline'
          ? `  (${[...s.statuses].join(',')})`
          : `  → p50 ×${fmt(s.p50 / b.p50, 2)}, throughput ${fmt((s.rps / b.rps) * 100, 0)}% of baseline  (${[...s.statuses].join(',')})`),
    );
  }
  out(
    `   retry adds one failed attempt, a stage.failed event and a 250 ms backoff per run; compensated undoes 8 stages (8 row-locked transactions + 8 stage.compensated events)`,
  );

  // B. recovery after SIGKILL, under a steady load
  out(
    `B. recovery after SIGKILL of the only pipeline process (restarted at once), steady ${RATE} runs/s, HEADY_STAGE_ACK_WAIT_MS=${ACK_WAIT}`,
  );
  let stop = false;
  let n = 0;
  const loadIds = [];
  const load = (async () => {
    const t0 = performance.now();
    while (!stop) {
      const wait = t0 + (n * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      const i = n++;
      void postRun(i, {}).then((id) => id && loadIds.push(id));
    }
  })();
  const figures = [];
  try {
    await sleep(5_000);
    for (let k = 0; k < KILLS; k++) {
      const inFlight = (
        await retrying(() =>
          db
            .selectFrom('pipeline_runs')
            .select('id')
            .where('status', 'in', ['PENDING', 'RUNNING'])
            .execute(),
        )
      ).map((r) => r.id);
      const killedAt = new Date();
      await stack.services.pipeline.kill('SIGKILL');
      await stack.services.pipeline.start(120_000);
      const readyMs = Date.now() - killedAt.getTime();
      let movedMs;
      for (;;) {
        const r = await retrying(() =>
          db
            .selectFrom('pipeline_stage_runs')
            .select(sql`min(finished_at)`.as('t'))
            .where('status', '=', 'SUCCEEDED')
            .where('finished_at', '>', killedAt)
            .executeTakeFirst(),
        );
        if (r?.t) {
          movedMs = new Date(r.t).getTime() - killedAt.getTime();
          break;
        }
        await sleep(20);
      }
      await waitAll(inFlight);
      const rows = inFlight.length ? await runRows(inFlight) : [];
      const doneMs = rows.length
        ? Math.max(...rows.map((r) => r.finished_at.getTime())) - killedAt.getTime()
        : 0;
      figures.push({ readyMs, movedMs, doneMs, inFlight: inFlight.length });
      out(
        `   kill ${k + 1}: ${inFlight.length} runs in flight; ready again after ${fmt(readyMs)} ms; first stage completed ${fmt(movedMs)} ms after the kill; all in-flight runs finished after ${fmt(doneMs)} ms (${rows.filter((r) => r.status === 'SUCCEEDED').length} SUCCEEDED)`,
      );
      await sleep(5_000);
    }
  } finally {
    stop = true;
    await load;
  }
  out(
    `   median of ${KILLS}: ready ${fmt(median(figures.map((f) => f.readyMs)))} ms, runs moving again ${fmt(median(figures.map((f) => f.movedMs)))} ms, in-flight runs done ${fmt(median(figures.map((f) => f.doneMs)))} ms`,
  );
  await db.destroy();
} finally {
  closing = true;
  await stack?.stop();
  await pg.drop();
  await nats.stop();
}
