// npm run bench:gateway — what the gateway's edge costs per request: an authenticated,
// rate-limited GET /api/whoami (API key lookup, plan from the tier cache, the Redis Lua
// sliding window, access check, problem handling on the way out) against a bare Fastify
// route answering the same JSON, each in its own process, measured in the same run on
// the same machine with the same autocannon settings, at fixed request rates (open loop
// per second: autocannon `overallRate`).
//
// Starts its own nats-server (temp dir), database and gateway process, as the e2e tests do.
// The key belongs to a Free organization whose limit is raised by configuration, so the
// limiter runs on every request but never refuses.
//
// Usage: npm run bench:gateway -- [--rates 500,2000] [--seconds 10] [--connections 10] [--warmup 3]
//                           [--cpu-prof <dir>]
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createApiKey, createDb, ensureOrganization } from '@heady/db';
import { createTestDatabase, freePort, startNatsServer, startStack } from '@heady/testing';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,2000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    // writes a V8 CPU profile of the gateway process into this directory
    'cpu-prof': { type: 'string' },
  },
});
const RATES = values.rates.split(',').map(Number);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const WARMUP = Number(values.warmup);

const fmt = (n, d = 2) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;

/** Runs autocannon at `rate` requests/s; latencies are collected per response (ms, sub-ms precision). */
function load(url, headers, rate, seconds) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let non2xx = 0;
    const instance = autocannon(
      { url, headers, connections: CONNECTIONS, overallRate: rate, duration: seconds },
      (err, result) => {
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        resolve({
          p50: pct(latencies, 50),
          p99: pct(latencies, 99),
          rps: result.requests.total / seconds,
          errors: result.errors + result.timeouts + non2xx,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status < 200 || status >= 300) non2xx += 1;
    });
  });
}

async function startBare() {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'bare-fastify.mjs'), String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`bare Fastify exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}/bare`, stop: () => child.kill('SIGTERM') };
}

const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_gateway');
let stack;
let bare;
try {
  process.stdout.write(`machine: ${cpus().length} cores, node ${process.version}\n`);
  stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['gateway'],
    env: {
      LOG_LEVEL: 'warn',
      HEADY_PLAN_FREE_LIMIT: '1000000000',
      HEADY_BAN_THRESHOLD: '0',
      ...(values['cpu-prof']
        ? {
            NODE_OPTIONS: `--import=${join(dirname(fileURLToPath(import.meta.url)), 'cpu-prof.mjs')}`,
            HEADY_CPU_PROF_DIR: values['cpu-prof'],
          }
        : {}),
    },
  });
  const db = createDb({ url: pg.url, poolMax: 1 });
  let key;
  try {
    const org = await ensureOrganization(db, 'bench', 'FREE');
    key = (await createApiKey(db, { orgId: org.id, name: 'bench', role: 'member' })).key;
  } finally {
    await db.destroy();
  }
  bare = await startBare();
  const gateway = `${stack.gatewayUrl}/api/whoami`;
  const headers = { authorization: `Bearer ${key}` };

  // the limiter must run on the measured route: the window's headers say it did
  const probe = await fetch(gateway, { headers });
  const policy = probe.headers.get('ratelimit-policy');
  if (probe.status !== 200 || !policy?.startsWith('"free"'))
    throw new Error(`GET /api/whoami → ${probe.status} (RateLimit-Policy: ${policy})`);
  process.stdout.write(
    `gateway route: GET /api/whoami (Free plan, RateLimit-Policy: ${policy}); bare route: GET /bare (Fastify ${(await import('node:module')).createRequire(join(dirname(fileURLToPath(import.meta.url)), '../services/gateway/package.json'))('fastify/package.json').version})\n` +
      `autocannon: ${CONNECTIONS} connections, ${SECONDS} s per measurement after ${WARMUP} s of warm-up\n\n`,
  );

  const rows = [];
  for (const rate of RATES) {
    // warm both (JIT, pools, caches), then measure them one after the other
    await load(bare.url, {}, rate, WARMUP);
    await load(gateway, headers, rate, WARMUP);
    const b = await load(bare.url, {}, rate, SECONDS);
    const g = await load(gateway, headers, rate, SECONDS);
    rows.push({ rate, b, g });
    process.stdout.write(
      `${rate} req/s target\n` +
        `  bare     p50 ${fmt(b.p50)} ms  p99 ${fmt(b.p99)} ms  achieved ${fmt(b.rps, 0)} req/s  errors ${b.errors}\n` +
        `  gateway  p50 ${fmt(g.p50)} ms  p99 ${fmt(g.p99)} ms  achieved ${fmt(g.rps, 0)} req/s  errors ${g.errors}\n` +
        `  overhead p50 ${fmt(g.p50 - b.p50)} ms  p99 ${fmt(g.p99 - b.p99)} ms  ratio p50 ${fmt(g.p50 / b.p50, 1)}x  p99 ${fmt(g.p99 / b.p99, 1)}x\n\n`,
    );
  }
  const worst = Math.max(...rows.map((r) => r.g.p99 - r.b.p99));
  process.stdout.write(
    `goal p99 overhead <= 5 ms on one instance: ${worst <= 5 ? 'met' : 'NOT met'} (worst p99 overhead ${fmt(worst)} ms)\n`,
  );
} finally {
  bare?.stop();
  await stack?.stop();
  await pg.drop();
  await nats.stop();
}
