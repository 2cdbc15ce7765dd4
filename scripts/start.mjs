#!/usr/bin/env node
// npm start: install, build, bring up NATS/PostgreSQL/Redis, migrate, start every
// service as its own process, run a demo, keep running until Ctrl-C.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureInfrastructure } from '../deploy/local/up.mjs';
import { ROOT, build, installIfNeeded, log, run, waitHttp } from './lib.mjs';

const GATEWAY_PORT = Number(process.env.HEADY_GATEWAY_PORT || 8080);
const DATA_DIR = join(ROOT, process.env.HEADY_DATA_DIR || '.heady');
const LOG_DIR = join(DATA_DIR, 'logs');
const SERVICES = [
  {
    name: 'conductor',
    port: Number(process.env.HEADY_CONDUCTOR_OPS_PORT || 9101),
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'pipeline',
    port: Number(process.env.HEADY_PIPELINE_OPS_PORT || 9102),
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  { name: 'gateway', port: GATEWAY_PORT, env: (p) => ({ HEADY_GATEWAY_PORT: String(p) }) },
];

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const children = new Map();
let stopping = false;

function tailOf(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function startService(svc) {
  const file = join(LOG_DIR, `${svc.name}.log`);
  const out = createWriteStream(file, { flags: 'a' });
  const child = spawn(process.execPath, [join(ROOT, 'services', svc.name, 'dist', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...svc.env(svc.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  const onData = (d) => {
    out.write(d);
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      // surface warnings and errors on the console; everything is in the log file
      try {
        const j = JSON.parse(line);
        if (j.level === 'warn' || j.level === 'error' || j.level === 'fatal')
          log(svc.name, `${j.level}: ${j.msg}${j.err?.message ? ` — ${j.err.message}` : ''}`);
      } catch {
        if (line.trim()) log(svc.name, line);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', (code, signal) => {
    children.delete(svc.name);
    if (!stopping)
      log(
        svc.name,
        `exited unexpectedly (${code ?? signal}); last lines of ${file}:\n${tailOf(file)}`,
      );
  });
  children.set(svc.name, child);
  return { child, file };
}

async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  log('heady', 'stopping every service…');
  const exits = [...children.values()].map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of children.values()) c.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children.values()) c.kill('SIGKILL');
  }, 10_000);
  await Promise.all(exits);
  clearTimeout(timer);
  log('heady', 'stopped');
  process.exit(code);
}

async function demo(base) {
  log('demo', `POST ${base}/api/runs {"action":"analyze",…}`);
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `demo-${Date.now()}` },
    body: JSON.stringify({
      action: 'analyze',
      input: { text: 'Heady demo: summarise the nine-stage pipeline' },
    }),
  });
  const accepted = await res.json();
  if (res.status !== 202)
    throw new Error(`demo run refused: ${res.status} ${JSON.stringify(accepted)}`);
  log(
    'demo',
    `${res.status} runId ${accepted.runId} (trace ${res.headers.get('traceparent')?.split('-')[1]})`,
  );
  const deadline = Date.now() + 60_000;
  let run;
  while (Date.now() < deadline) {
    run = await (await fetch(`${base}${accepted.links.self}`)).json();
    if (['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'].includes(run.status)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const rows = run.stages.map((s) => [
    String(s.num),
    s.name,
    s.status,
    String(s.attempts),
    s.finishedAt ? String(new Date(s.finishedAt) - new Date(s.startedAt)) : '',
  ]);
  const head = ['#', 'stage', 'status', 'attempts', 'ms'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(w[i])).join('  ');
  process.stdout.write(
    `\nrun ${run.runId}: ${run.status} (action ${run.action} → group ${run.group})\n${line(head)}\n${rows.map(line).join('\n')}\nresult: ${JSON.stringify(run.result, null, 2)}\n\n`,
  );
}

async function main() {
  await installIfNeeded();
  await build();
  await ensureInfrastructure({ log: (m) => log('infra', m) });
  log('setup', 'migrating the database (heady db migrate)');
  await run(process.execPath, [join(ROOT, 'libs/cli/dist/main.js'), 'db', 'migrate']);
  log('setup', 'development signing keys (heady keys dev; git-ignored)');
  await run(process.execPath, [join(ROOT, 'libs/cli/dist/main.js'), 'keys', 'dev']);
  mkdirSync(LOG_DIR, { recursive: true });
  for (const svc of SERVICES) {
    if (!(await portFree(svc.port)))
      throw new Error(
        `port ${svc.port} (${svc.name}) is already in use; stop what holds it or set ${svc.name === 'gateway' ? 'HEADY_GATEWAY_PORT' : `HEADY_${svc.name.toUpperCase()}_OPS_PORT`}`,
      );
  }
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  for (const svc of SERVICES) {
    const { child } = startService(svc);
    await waitHttp(
      `http://127.0.0.1:${svc.port}/readyz`,
      60_000,
      () => child.exitCode === null && child.signalCode === null,
    );
    log(svc.name, `ready (pid ${child.pid}, http://127.0.0.1:${svc.port}/readyz)`);
  }
  const base = `http://127.0.0.1:${GATEWAY_PORT}`;
  log('heady', `gateway: ${base}   logs: ${LOG_DIR}/<service>.log`);
  await demo(base);
  log(
    'heady',
    `running: gateway ${base}, conductor ops :${SERVICES[0].port}, pipeline ops :${SERVICES[1].port}. Press Ctrl-C to stop.`,
  );
}

main().catch(async (e) => {
  log('heady', `failed: ${e.message}`);
  await stopAll(1);
});
