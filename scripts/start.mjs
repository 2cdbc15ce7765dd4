#!/usr/bin/env node
// npm start: install and build when needed, bring up NATS/PostgreSQL/Redis, migrate, make
// development keys, start every service as its own process, submit one demo run, then keep
// running until Ctrl-C (SIGINT) or SIGTERM.
//
// Environment: NODE_ENV (development here), HEADY_GATEWAY_PORT (8080), HEADY_GATEWAY_OPS_PORT (9100),
// HEADY_CONDUCTOR_OPS_PORT (9101), HEADY_PIPELINE_OPS_PORT (9102), HEADY_MEMORY_OPS_PORT (9103),
// HEADY_VAULT_OPS_PORT (9107), HEADY_BILLING_OPS_PORT (9105), HEADY_FAKE_STRIPE_PORT (12111; the
// fake Stripe that runs when STRIPE_SECRET_KEY is unset), HEADY_DEVICE_SYNC_OPS_PORT (9106),
// HEADY_DATA_DIR (.heady; logs in <dir>/logs), HEADY_NATS_PORT (4223), plus everything the
// services read (DATABASE_URL, REDIS_URL, LOG_LEVEL, ...).
//
// NATS: unless NATS_URL is set, npm start runs a nats-server of its own on 127.0.0.1:HEADY_NATS_PORT
// with authentication on (`heady nats config` writes <data dir>/nats: an nkey seed per service
// and for operators, and a configuration admitting only those users, each with the permissions
// of its certificate), and every service connects as its own user. With NATS_URL set, that
// server is used as it is (with HEADY_NATS_NKEY_FILE if it needs credentials).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import { ensureInfrastructure, startOwnNats } from '../deploy/local/up.mjs';
import { ROOT, build, installIfNeeded, log, run, sleep, waitHttp } from './lib.mjs';

// npm start is a development setup (development keys, demo credentials): say so, since the
// services default to production (which refuses HEADY_FAULTS and HEADY_SIGNING=off)
process.env.NODE_ENV ||= 'development';

const CLI = join(ROOT, 'libs/cli/dist/main.js');
const GATEWAY_PORT = Number(process.env.HEADY_GATEWAY_PORT || 8080);
const GATEWAY_OPS_PORT = Number(process.env.HEADY_GATEWAY_OPS_PORT || 9100);
const dataDir = process.env.HEADY_DATA_DIR || '.heady';
const LOG_DIR = isAbsolute(dataDir) ? join(dataDir, 'logs') : join(ROOT, dataDir, 'logs');
const DATA_DIR = isAbsolute(dataDir) ? dataDir : join(ROOT, dataDir);
const CREDENTIALS = join(DATA_DIR, 'credentials.json');
// our own authenticated NATS unless NATS_URL points at one (see the top of this file)
const OWN_NATS = !process.env.NATS_URL;
const NATS_PORT = Number(process.env.HEADY_NATS_PORT || 4223);
const NATS_DIR = join(DATA_DIR, 'nats');
let natsChild; // our own nats-server, stopped after the services
/** How `user` (a service or `operator`) reaches NATS: our own server with its own nkey. */
const natsEnv = (user) =>
  OWN_NATS
    ? {
        NATS_URL: `nats://127.0.0.1:${NATS_PORT}`,
        HEADY_NATS_NKEY_FILE: join(NATS_DIR, `${user}.nk`),
      }
    : {};
let demoKey = ''; // the Free demo key from the credentials file
const auth = () => ({ authorization: `Bearer ${demoKey}` });
const TERMINAL = ['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'];
// billing talks to Stripe's test mode with STRIPE_SECRET_KEY set, else to a local fake Stripe
let stripeEnv = {};
let fakeStripe; // the fake Stripe server, closed after the services

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
    name: 'workers',
    port: Number(process.env.HEADY_WORKERS_OPS_PORT || 9104),
    portVar: 'HEADY_WORKERS_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'knowledge-vault',
    port: Number(process.env.HEADY_VAULT_OPS_PORT || 9107),
    portVar: 'HEADY_VAULT_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'billing',
    port: Number(process.env.HEADY_BILLING_OPS_PORT || 9105),
    portVar: 'HEADY_BILLING_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p), ...stripeEnv }),
  },
  {
    name: 'device-sync',
    port: Number(process.env.HEADY_DEVICE_SYNC_OPS_PORT || 9106),
    portVar: 'HEADY_DEVICE_SYNC_OPS_PORT',
    env: (p) => ({ HEADY_OPS_PORT: String(p) }),
  },
  {
    name: 'gateway',
    port: GATEWAY_PORT,
    portVar: 'HEADY_GATEWAY_PORT',
    // /readyz and /metrics of the gateway live on its ops port, never on the public one
    opsPort: GATEWAY_OPS_PORT,
    opsPortVar: 'HEADY_GATEWAY_OPS_PORT',
    env: (p) => ({ HEADY_GATEWAY_PORT: String(p), HEADY_OPS_PORT: String(GATEWAY_OPS_PORT) }),
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
    for (const [port, portVar] of [
      [svc.port, svc.portVar],
      ...(svc.opsPort ? [[svc.opsPort, svc.opsPortVar]] : []),
    ])
      if (!(await portFree(port)))
        throw new Error(
          `port ${port} (${svc.name}) is already in use by another process; stop it (e.g. a previous npm start) or choose another port with ${portVar}=...`,
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
    env: { ...process.env, ...natsEnv(svc.name), ...svc.env(svc.port) },
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
    ([, { out }]) =>
      /** @type {Promise<void>} */ (
        new Promise((resolve) => {
          if (out.closed) return resolve();
          out.once('close', resolve);
        })
      ),
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
  await fakeStripe?.close();
  if (natsChild && natsChild.exitCode === null && natsChild.signalCode === null) {
    const exited = new Promise((resolve) => natsChild.once('exit', resolve));
    natsChild.kill('SIGTERM');
    await exited;
  }
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
      `answer (${run.result?.model ?? 'no model'}):`,
      typeof run.result?.output === 'string'
        ? run.result.output
        : JSON.stringify(run.result?.output ?? null),
      ...(run.result?.sources?.length
        ? [
            `retrieved: ${run.result.sources.map((x) => `${x.kind} ${x.source} (score ${x.score})`).join(', ')}`,
          ]
        : []),
      `(the whole result: GET /api/runs/${run.runId})`,
      '',
    ].join('\n') + '\n',
  );
}

async function demo(base, sessionId) {
  // the offline `local` provider answers by quoting the passages it was given: the context
  // passages of the request, and what ingest retrieved from the session's memory (stored by
  // memoryDemo just before)
  const body = {
    action: 'analyze',
    sessionId,
    input: {
      message:
        'How does Heady keep a run from being lost when a process crashes, and how are its messages signed?',
      context: [
        {
          source: 'docs/durable-runs.md',
          text:
            'Each stage is a durable JetStream consumer. A stage marks its row SUCCEEDED in the ' +
            'same transaction as its work, so a redelivery after a crash finds the work done. ' +
            'A stage that fails for good is compensated in reverse order.',
        },
        {
          source: 'docs/signing.md',
          text: 'Every bus message carries a composite ML-DSA-65 and Ed25519 signature.',
        },
      ],
    },
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
  /** @type {{ status: string } | undefined} */
  let last;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { headers: auth(), signal: AbortSignal.timeout(5000) });
      if (r.ok) last = /** @type {{ status: string }} */ (await r.json());
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

/** Stores two notes in a session's vector memory and searches them (local lexical embeddings); returns the session. */
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
  return session;
}

/**
 * The webhook signing secret (`stripe.webhookSecret` of credentials.json, made on first
 * start) and, without STRIPE_SECRET_KEY, a local fake Stripe for billing to talk to.
 */
async function setUpStripe(creds) {
  if (!creds.stripe?.webhookSecret) {
    creds.stripe = { ...creds.stripe, webhookSecret: `whsec_${randomBytes(24).toString('hex')}` };
    writeFileSync(CREDENTIALS, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
    log('setup', `Stripe webhook secret: stripe.webhookSecret in ${relative(ROOT, CREDENTIALS)}`);
  }
  if (process.env.STRIPE_SECRET_KEY) {
    log('setup', 'billing talks to Stripe with STRIPE_SECRET_KEY');
    return;
  }
  const { startFakeStripeServer } = await import('@heady/testing');
  fakeStripe = await startFakeStripeServer({
    webhookSecret: process.env.STRIPE_WEBHOOK_SECRET || creds.stripe.webhookSecret,
    port: Number(process.env.HEADY_FAKE_STRIPE_PORT || 12111),
  });
  stripeEnv = { STRIPE_SECRET_KEY: fakeStripe.secretKey, HEADY_STRIPE_API_URL: fakeStripe.url };
  log('setup', `no STRIPE_SECRET_KEY: billing talks to a local fake Stripe at ${fakeStripe.url}`);
}

async function main() {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  await checkPorts(); // fail fast, before a long install or build
  await installIfNeeded();
  await build();
  mkdirSync(LOG_DIR, { recursive: true });
  if (OWN_NATS) {
    log('setup', `NATS users and server configuration (heady nats config; kept in ${NATS_DIR})`);
    await run(process.execPath, [
      CLI,
      'nats',
      'config',
      '--dir',
      NATS_DIR,
      '--port',
      String(NATS_PORT),
    ]);
  }
  await ensureInfrastructure({ log: (m) => log('infra', m), skipNats: OWN_NATS });
  if (OWN_NATS)
    natsChild = await startOwnNats({
      configFile: join(NATS_DIR, 'nats-server.conf'),
      host: '127.0.0.1',
      port: NATS_PORT,
      logFile: join(LOG_DIR, 'nats-server.log'),
      pidFile: join(NATS_DIR, 'nats-server.pid'),
      log: (m) => log('infra', m),
    });
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
  await setUpStripe(creds);
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
    const readyz = `http://127.0.0.1:${svc.opsPort ?? svc.port}/readyz`;
    await waitHttp(readyz, 60_000, () => child.exitCode === null && child.signalCode === null);
    log(svc.name, `ready: ${readyz}`);
  }
  started = true;
  const base = `http://127.0.0.1:${GATEWAY_PORT}`;
  log('heady', `gateway: ${base}`);
  try {
    const session = await memoryDemo(base);
    await demo(base, session);
  } catch (e) {
    log('demo', `failed: ${e.message} (the services keep running; see the logs)`);
  }
  log(
    'heady',
    `running: gateway ${base}, ops ports ${SERVICES.filter((s) => s.name !== 'gateway')
      .map((s) => `${s.name} :${s.port}`)
      .join(', ')}`,
  );
  if (OWN_NATS)
    log(
      'heady',
      `NATS: nats://127.0.0.1:${NATS_PORT}, authenticated (a client without an nkey is refused); \`npx heady …\` connects as the operator (${relative(ROOT, join(NATS_DIR, 'operator.nk'))})`,
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
