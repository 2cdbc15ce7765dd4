#!/usr/bin/env node
// npm start: install and build when needed, bring up NATS/PostgreSQL/Redis, migrate, make
// development keys, start every service as its own process, submit one demo run, then keep
// running until Ctrl-C (SIGINT) or SIGTERM.
//
// Environment: HEADY_GATEWAY_PORT (8080), HEADY_CONDUCTOR_OPS_PORT (9101),
// HEADY_PIPELINE_OPS_PORT (9102), HEADY_MEMORY_OPS_PORT (9103), HEADY_DATA_DIR (.heady; logs in <dir>/logs), plus
// everything the services read (NATS_URL, DATABASE_URL, REDIS_URL, LOG_LEVEL, ...).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import { ensureInfrastructure } from '../deploy/local/up.mjs';
import { ROOT, build, installIfNeeded, log, run, sleep, waitHttp } from './lib.mjs';

const CLI = join(ROOT, 'libs/cli/dist/main.js');
const GATEWAY_PORT = Number(process.env.HEADY_GATEWAY_PORT || 8080);
const dataDir = process.env.HEADY_DATA_DIR || '.heady';
const LOG_DIR = isAbsolute(dataDir) ? join(dataDir, 'logs') : join(ROOT, dataDir, 'logs');
const CREDENTIALS = isAbsolute(dataDir)
  ? join(dataDir, 'credentials.json')
  : join(ROOT, dataDir, 'credentials.json');
let demoKey = ''; // the Free demo key from the credentials file
const auth = () => ({ authorization: `Bearer ${demoKey}` });
const TERMINAL = ['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'];

// Started in this order; each must be ready before the next starts.
const SERVICES = [
  {
    name: 'conductor',
    port: Number(process.env.HEADY_CONDUCTOR_OPS_PORT || 9101),
    portVar: 'HEADY_CONDUCTOR_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'pipeline',
    port: Number(process.env.HEADY_PIPELINE_OPS_PORT || 9102),
    portVar: 'HEADY_PIPELINE_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'vector-memory',
    port: Number(process.env.HEADY_MEMORY_OPS_PORT || 9103),
    portVar: 'HEADY_MEMORY_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'gateway',
    port: GATEWAY_PORT,
    portVar: 'HEADY_GATEWAY_PORT',
    env: (p) => ({ HEADY_GATEWAY_PORT: String(p) }),
  },
];

const children = new Map(); // name → { child, out, file }
let stopping = false;
let started = false; // every service was ready once

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    // no host: the wildcard bind also collides with something on 127.0.0.1 or ::
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

async function checkPorts() {
  for (const svc of SERVICES)
    if (!(await portFree(svc.port)))
      throw new Error(
        `port ${svc.port} (${svc.name}) is already in use by another process; stop it (e.g. a previous npm start) or choose another port with ${svc.portVar}=...`,
      );
}

function tailOf(file, lines = 12) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** One console line for a pino JSON warning or error; undefined for anything quieter. */
function summarize(line) {
  let j;
  try {
    j = JSON.parse(line);
  } catch {
    return line.trim() || undefined; // not JSON (a crash trace, say): show it as it is
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const level =
    typeof j.level === 'number'
      ? j.level >= 60
        ? 'fatal'
        : j.level >= 50
          ? 'error'
          : j.level >= 40
            ? 'warn'
            : 'info'
      : String(j.level);
  if (!['warn', 'error', 'fatal'].includes(level)) return undefined;
  const err = j.err?.message ?? j.error?.message ?? (typeof j.error === 'string' ? j.error : '');
  return `${level.toUpperCase()} ${j.msg ?? ''}${err ? ` — ${err}` : ''}`;
}

function startService(svc) {
  const file = join(LOG_DIR, `${svc.name}.log`);
  const out = createWriteStream(file, { flags: 'a' });
  out.write(`\n--- npm start ${new Date().toISOString()} ---\n`);
  const child = spawn(process.execPath, [join(ROOT, 'services', svc.name, 'dist', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...svc.env(svc.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { child, out, file };
  children.set(svc.name, entry);
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      out.write(d);
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const s = summarize(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (s) log(svc.name, s);
      }
    });
  }
  child.on('error', (e) => log(svc.name, `could not start: ${e.message}`));
  // 'close' (not 'exit'): fires after the child's output has been drained into the log
  child.on('close', (code, signal) => {
    children.delete(svc.name);
    out.end();
    if (stopping) return;
    log(
      svc.name,
      `exited unexpectedly with ${code !== null ? `code ${code}` : signal}; last lines of ${relative(ROOT, file)}:\n${tailOf(file)}`,
    );
    if (started && children.size === 0) {
      log('heady', 'every service has exited; nothing left to run');
      void stopAll(1);
    }
  });
  return entry;
}

async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  const running = [...children.entries()];
  if (running.length) log('heady', `stopping ${running.map(([n]) => n).join(', ')}…`);
  const exits = running.map(
    ([, { child, out }]) =>
      new Promise((resolve) => {
        if (out.closed) return resolve();
        out.once('close', resolve);
      }),
  );
  for (const [, { child }] of running) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const [name, { child }] of running)
      if (child.exitCode === null && child.signalCode === null) {
        log(name, 'still running after 10 s: SIGKILL');
        child.kill('SIGKILL');
      }
  }, 10_000);
  await Promise.all(exits);
  clearTimeout(timer);
  if (running.length) log('heady', `stopped. Logs: ${LOG_DIR}`);
  process.exit(code);
}

const fmtMs = (a, b) => (a && b ? String(new Date(b).getTime() - new Date(a).getTime()) : '');

function printRun(run) {
  const head = ['#', 'stage', 'status', 'attempts', 'ms'];
  const rows = (run.stages ?? []).map((s) => [
    String(s.num ?? ''),
    String(s.name ?? ''),
    String(s.status ?? ''),
    String(s.attempts ?? ''),
    fmtMs(s.startedAt, s.finishedAt),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) =>
    r
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  const errors = (run.stages ?? []).filter((s) => s.error);
  process.stdout.write(
    [
      '',
      `run ${run.runId}: ${run.status} (action ${run.action} → group ${run.group ?? '-'}, ${fmtMs(run.createdAt, run.finishedAt) || '?'} ms)`,
      line(head),
      ...rows.map(line),
      ...errors.map((s) => `stage ${s.name}: ${JSON.stringify(s.error)}`),
      `result: ${JSON.stringify(run.result ?? null, null, 2)}`,
      '',
    ].join('\n') + '\n',
  );
}

async function demo(base) {
  const body = {
    action: 'analyze',
    input: { text: 'Heady demo: summarise the nine-stage pipeline' },
  };
  log('demo', `POST ${base}/api/runs ${JSON.stringify(body)}`);
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': `demo-${Date.now()}`,
      ...auth(),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 202)
    throw new Error(`the gateway answered ${res.status}: ${text.slice(0, 500)}`);
  const { runId } = JSON.parse(text);
  log('demo', `202 accepted: run ${runId}; polling GET /api/runs/${runId}`);
  const url = `${base}/api/runs/${encodeURIComponent(runId)}`;
  const deadline = Date.now() + 60_000;
  let last;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { headers: auth(), signal: AbortSignal.timeout(5000) });
      if (r.ok) last = await r.json();
    } catch {
      // transient; try again
    }
    if (last && TERMINAL.includes(last.status)) return printRun(last);
    await sleep(500); // the demo key is on the Free plan (30 requests/min): poll gently
  }
  if (last) printRun(last);
  throw new Error(
    `run ${runId} did not finish within 60 s (last status ${last?.status ?? 'unknown'})`,
  );
}

/** Stores two notes in vector memory and searches them (local lexical embeddings). */
async function memoryDemo(base) {
  const post = async (path, body) => {
    const r = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth() },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`POST ${path} answered ${r.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  const session = `demo-${Date.now()}`;
  await post('/api/memory/vectors', {
    items: [
      {
        content: 'The pipeline has nine stages, each its own JetStream consumer',
        sessionId: session,
      },
      { content: 'Every bus message is signed with ML-DSA-65 and Ed25519', sessionId: session },
    ],
  });
  const { results } = await post('/api/memory/search', {
    query: 'how are messages signed?',
    topK: 1,
    sessionId: session,
  });
  log(
    'demo',
    `memory: "how are messages signed?" → "${results[0]?.content}" (score ${results[0]?.score?.toFixed(3)})`,
  );
}

async function main() {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  await checkPorts(); // fail fast, before a long install or build
  await installIfNeeded();
  await build();
  await ensureInfrastructure({ log: (m) => log('infra', m) });
  log('setup', 'migrating the database (heady db migrate)');
  await run(process.execPath, [CLI, 'db', 'migrate']);
  log('setup', 'development signing keys (heady keys dev; kept under the git-ignored data dir)');
  await run(process.execPath, [CLI, 'keys', 'dev']);
  log('setup', 'development API keys (heady apikeys dev)');
  await run(process.execPath, [
    CLI,
    'apikeys',
    'dev',
    '--gateway',
    `http://127.0.0.1:${GATEWAY_PORT}`,
  ]);
  const creds = JSON.parse(readFileSync(CREDENTIALS, 'utf8'));
  demoKey = creds.demo.key;
  log(
    'setup',
    `API keys: ${relative(ROOT, CREDENTIALS) || CREDENTIALS} holds an admin key (org ${creds.admin.org}, ${creds.admin.plan}) and a demo key (org ${creds.demo.org}, ${creds.demo.plan}); send them as "Authorization: Bearer <key>"`,
  );
  mkdirSync(LOG_DIR, { recursive: true });
  await checkPorts();
  for (const svc of SERVICES) {
    if (stopping) return;
    const { child, file } = startService(svc);
    log(svc.name, `started (pid ${child.pid}), log ${relative(ROOT, file)}`);
    await waitHttp(
      `http://127.0.0.1:${svc.port}/readyz`,
      60_000,
      () => child.exitCode === null && child.signalCode === null,
    );
    log(svc.name, `ready: http://127.0.0.1:${svc.port}/readyz`);
  }
  started = true;
  const base = `http://127.0.0.1:${GATEWAY_PORT}`;
  log('heady', `gateway: ${base}`);
  try {
    await demo(base);
    await memoryDemo(base);
  } catch (e) {
    log('demo', `failed: ${e.message} (the services keep running; see the logs)`);
  }
  log(
    'heady',
    `running: gateway ${base}, ops ports ${SERVICES.filter((s) => s.name !== 'gateway')
      .map((s) => `${s.name} :${s.port}`)
      .join(', ')}`,
  );
  log(
    'heady',
    `logs: ${LOG_DIR}/{${SERVICES.map((s) => s.name).join(',')}}.log. Press Ctrl-C to stop.`,
  );
}

main().catch(async (e) => {
  if (stopping) return;
  log('heady', `failed: ${e.message}`);
  await stopAll(1);
});
