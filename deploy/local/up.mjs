#!/usr/bin/env node
// Brings up NATS (with JetStream), PostgreSQL and Redis on this machine when they are not
// running. Plain Node, no dependencies: it runs before `pnpm install`.
//
//   node deploy/local/up.mjs        (or deploy/local/up.sh; npm start and npm test call it)
//
// npm start passes `ownNats` (a nats-server configuration made by `heady nats config`): that
// NATS is not the shared one of NATS_URL but a nats-server of its own, started as a child
// process with authentication on (see startOwnNats below).
//
// For each of NATS_URL, DATABASE_URL and REDIS_URL (defaults 127.0.0.1:4222/5432/6379):
// - something accepts TCP connections there → used as it is;
// - not a local address (127.0.0.1, localhost, ::1) → error, nothing is started elsewhere;
// - the server is installed → started (Debian layout: pg_ctlcluster, start-stop-daemon);
// - not installed → as root, `apt-get update` once and `apt-get install -y` of the missing
//   Debian packages (nats-server, postgresql, redis-server); otherwise an error naming them.
// Then it waits up to 30 s for each port, checks that NATS answers the JetStream API, and
// that PostgreSQL lets the DATABASE_URL user in over TCP without an interactive password.
// When PostgreSQL asks for a password (a fresh Debian install uses scram-sha-256 on TCP)
// and HEADY_DEV_TRUST_PG=1 or CI is set, it adds `trust` lines for that user on
// 127.0.0.1/32 and ::1/128 at the top of pg_hba.conf and reloads — development and CI
// machines only; never set HEADY_DEV_TRUST_PG on a shared or production server.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1']);
const WAIT_MS = 30_000;
const truthy = (v) => /^(1|true|yes|on)$/i.test(v ?? '');

class InfraError extends Error {}

/** host/port (and credentials) of a service URL; tolerant of `host:port` without a scheme. */
function target(envUrl, fallback) {
  let raw = (envUrl || fallback).trim();
  if (!raw.includes('://')) raw = `${new URL(fallback).protocol}//${raw}`;
  let u;
  try {
    u = new URL(raw);
  } catch {
    throw new InfraError(`cannot parse the URL ${JSON.stringify(envUrl)}`);
  }
  return {
    url: u,
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(u.port) || Number(new URL(fallback).port),
    user: decodeURIComponent(u.username),
    pass: decodeURIComponent(u.password),
  };
}
const where = (t) => (t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`);

function accepting({ host, port }, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, lines = 10) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitFor(svc, t, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await accepting(t)) return;
    await sleep(250);
  }
  const logFile = svc.logFile?.(t);
  const last = logFile ? tail(logFile) : '';
  throw new InfraError(
    `${svc.name} did not accept connections on ${where(t)} within ${timeoutMs / 1000} s` +
      (logFile ? `; see ${logFile}` : '') +
      (last ? `:\n${last}` : ''),
  );
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const onPath = (bin) =>
  bin.startsWith('/')
    ? existsSync(bin)
    : spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/** Runs a command with its output on our stderr/stdout; throws with the command line on failure. */
function sh(cmd, args, log, { quiet = false } = {}) {
  if (!quiet)
    log(`$ ${cmd} ${args.map((a) => (a === '' || /\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) throw new InfraError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0)
    throw new InfraError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** Installed PostgreSQL major versions, highest first (Debian layout). */
function pgVersions(root) {
  return existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
}
function pgConfiguredPort(dir) {
  try {
    const m = /^\s*port\s*=\s*(\d+)/m.exec(readFileSync(`${dir}/postgresql.conf`, 'utf8'));
    return m ? Number(m[1]) : 5432;
  } catch {
    return undefined;
  }
}
/** The Debian cluster configured for `port` (else the newest `main`): { version, name, dir, port }. */
function pgCluster(port) {
  const clusters = pgVersions('/etc/postgresql').flatMap((version) =>
    readdirSync(`/etc/postgresql/${version}`)
      .map((name) => ({ version, name, dir: `/etc/postgresql/${version}/${name}` }))
      .filter((c) => existsSync(`${c.dir}/postgresql.conf`))
      .map((c) => ({ ...c, port: pgConfiguredPort(c.dir) })),
  );
  return clusters.find((c) => c.port === port) ?? clusters.find((c) => c.name === 'main');
}

const SERVICES = [
  {
    name: 'NATS',
    pkg: 'nats-server',
    bin: '/usr/sbin/nats-server',
    target: () => target(process.env.NATS_URL?.split(',')[0], 'nats://127.0.0.1:4222'),
    logFile: () => '/var/log/nats-server.log',
    start(t, log) {
      // the default port keeps the Debian store; another port gets its own (two servers cannot share one)
      const store = t.port === 4222 ? '/var/lib/nats-server' : `/var/lib/nats-server-${t.port}`;
      mkdirSync(store, { recursive: true });
      sh(
        'start-stop-daemon',
        [
          '--start',
          '--oknodo',
          '--background',
          // matched by pid file, so a nats-server on another port (a test's) does not count as ours
          '--make-pidfile',
          '--pidfile',
          `/run/heady-nats-server-${t.port}.pid`,
          '--exec',
          '/usr/sbin/nats-server',
          '--',
          '-a',
          t.host,
          '-p',
          String(t.port),
          '-js',
          '-sd',
          store,
          '-l',
          '/var/log/nats-server.log',
        ],
        log,
      );
    },
  },
  {
    name: 'PostgreSQL',
    pkg: 'postgresql',
    bin: 'pg_ctlcluster',
    target: () => target(process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/heady'),
    logFile: (t) => {
      const c = pgCluster(t.port);
      return c && `/var/log/postgresql/postgresql-${c.version}-${c.name}.log`;
    },
    start(t, log) {
      let c = pgCluster(t.port);
      if (!c) {
        // installed without a cluster (e.g. create_main_cluster = false): make the default one
        const v = pgVersions('/usr/lib/postgresql')[0];
        if (!v)
          throw new InfraError(
            'PostgreSQL is installed but no server version was found under /usr/lib/postgresql',
          );
        sh('pg_createcluster', [v, 'main'], log);
        c = pgCluster(t.port);
        if (!c)
          throw new InfraError(`pg_createcluster ${v} main made no cluster under /etc/postgresql`);
      }
      if (c.port !== t.port)
        log(
          `warning: no cluster is configured for port ${t.port}; ${c.version}/${c.name} listens on ${c.port} (${c.dir}/postgresql.conf)`,
        );
      sh('pg_ctlcluster', ['--skip-systemctl-redirect', c.version, c.name, 'start'], log);
    },
  },
  {
    name: 'Redis',
    pkg: 'redis-server',
    bin: 'redis-server',
    target: () => target(process.env.REDIS_URL, 'redis://127.0.0.1:6379'),
    logFile: () => '/var/log/redis/ci.log',
    start(t, log) {
      mkdirSync('/var/lib/redis', { recursive: true });
      mkdirSync('/var/log/redis', { recursive: true });
      sh(
        'redis-server',
        [
          '--daemonize',
          'yes',
          '--bind',
          '127.0.0.1',
          '-::1',
          '--port',
          String(t.port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          '/var/lib/redis',
          '--logfile',
          '/var/log/redis/ci.log',
        ],
        log,
      );
    },
  },
];

/**
 * Speaks just enough of the NATS client protocol to ask `$JS.API.INFO`. Resolves
 * `{ ok: true }` when JetStream answers, `{ ok: false, reason }` otherwise.
 */
export function probeJetStream(t, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const s = connect({ host: t.host, port: t.port });
    let buf = Buffer.alloc(0);
    let sent = false;
    const timer = setTimeout(() => done(false, 'no answer to $JS.API.INFO within 5 s'), timeoutMs);
    function done(ok, reason) {
      clearTimeout(timer);
      s.destroy();
      resolve({ ok, reason });
    }
    s.on('error', (e) => done(false, e.message));
    s.on('close', () => done(false, 'connection closed by the server'));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString();
        const words = line.split(' ');
        const op = words[0].toUpperCase();
        if (op === 'MSG' || op === 'HMSG') {
          const total = Number(words.at(-1));
          if (buf.length < eol + 2 + total + 2) return; // wait for the whole payload
          const body = buf.subarray(eol + 2, eol + 2 + total).toString();
          buf = buf.subarray(eol + 2 + total + 2);
          if (op === 'HMSG') {
            // a status-only message: 503 = no responders, i.e. JetStream is not enabled
            const status = /^NATS\/1\.0 (\d+)/.exec(body)?.[1];
            return done(false, status === '503' ? 'no JetStream responders' : `status ${status}`);
          }
          try {
            const info = JSON.parse(body);
            return info.error
              ? done(false, info.error.description ?? JSON.stringify(info.error))
              : done(true);
          } catch {
            return done(false, `unexpected reply ${body.slice(0, 120)}`);
          }
        }
        buf = buf.subarray(eol + 2);
        if (op === 'INFO' && !sent) {
          sent = true;
          const opts = {
            verbose: false,
            pedantic: false,
            headers: true,
            no_responders: true,
            name: 'heady-up',
          };
          if (t.user && t.pass) Object.assign(opts, { user: t.user, pass: t.pass });
          else if (t.user) opts.auth_token = t.user;
          s.write(
            `CONNECT ${JSON.stringify(opts)}\r\nSUB _INBOX.heady.up 1\r\nPUB $JS.API.INFO _INBOX.heady.up 0\r\n\r\nPING\r\n`,
          );
        } else if (op === 'PING') s.write('PONG\r\n');
        else if (op === '-ERR') return done(false, line);
      }
    });
  });
}

/** Checks a psql login as the DATABASE_URL user; returns undefined when fine, else psql's error. */
function pgLoginError(t) {
  const u = new URL(t.url);
  u.pathname = '/postgres'; // the heady database may not exist yet; `heady db migrate` creates it
  const r = spawnSync('psql', ['-w', '-X', '-Atc', 'select 1', '-d', u.href], {
    encoding: 'utf8',
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
  });
  if (r.error) return undefined; // no psql here: nothing to check with
  return r.status === 0 ? undefined : (r.stderr || `psql exited with ${r.status}`).trim();
}

function trustLocalPostgres(t, log) {
  const c = pgCluster(t.port);
  if (!c) throw new InfraError('cannot find pg_hba.conf under /etc/postgresql/<version>/<cluster>');
  const file = `${c.dir}/pg_hba.conf`;
  const user = t.user || 'postgres';
  const lines = [
    '# added by Heady deploy/local/up.mjs (HEADY_DEV_TRUST_PG=1 or CI): development machines only',
    `host all ${user} 127.0.0.1/32 trust`,
    `host all ${user} ::1/128 trust`,
  ];
  log(
    `PostgreSQL asks ${user} for a password over TCP; adding trust for ${user} on 127.0.0.1 and ::1 to ${file}`,
  );
  writeFileSync(file, `${lines.join('\n')}\n${readFileSync(file, 'utf8')}`);
  sh('pg_ctlcluster', ['--skip-systemctl-redirect', c.version, c.name, 'reload'], log);
}

async function checkPostgresLogin(t, log) {
  let err = pgLoginError(t);
  if (!err) return;
  const authProblem = /password|authentication failed|no pg_hba\.conf entry/i.test(err);
  const allowed = truthy(process.env.HEADY_DEV_TRUST_PG) || truthy(process.env.CI);
  if (authProblem && allowed && isRoot() && !t.pass) {
    trustLocalPostgres(t, log);
    for (let i = 0; i < 20 && (err = pgLoginError(t)); i++) await sleep(250);
    if (!err) return log(`PostgreSQL now trusts ${t.user || 'postgres'} on 127.0.0.1 and ::1`);
  }
  if (authProblem && !t.pass)
    throw new InfraError(
      `PostgreSQL on ${where(t)} refuses ${t.user || 'postgres'} without a password:\n  ${err}\n` +
        'Put the password in DATABASE_URL, or on a development machine run as root with HEADY_DEV_TRUST_PG=1 ' +
        'to add trust lines for 127.0.0.1/::1 to pg_hba.conf.',
    );
  // anything else (a missing role, say) is left for `heady db migrate` to report
  log(`warning: a test login to PostgreSQL failed: ${err.split('\n')[0]}`);
}

/** Installs the Debian packages of `missing` services (as root), or throws naming them. */
function installMissing(missing, log) {
  if (!missing.length) return;
  const pkgs = missing.map(({ svc }) => svc.pkg);
  if (!isRoot() || !onPath('apt-get'))
    throw new InfraError(
      `${missing.map(({ svc }) => svc.name).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not installed. On Debian/Ubuntu install with:\n` +
        `  sudo apt-get install -y ${pkgs.join(' ')}\n` +
        'then run this again (or point NATS_URL / DATABASE_URL / REDIS_URL at running servers).',
    );
  sh('apt-get', ['update', '-qq'], log);
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], log);
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts a nats-server of our own from `configFile` (written by `heady nats config`: JetStream,
 * nkey users only) on `host`:`port`, as a child process of the caller, logging to `logFile`
 * and writing its pid to `pidFile`. A server of ours still running from an earlier start (its
 * pid file names a live process and the port answers) is kept and told to reload the
 * configuration (SIGHUP); anything else on the port is an error. Returns the child, or
 * undefined when an earlier one was kept.
 *
 * @param {{ configFile: string, host: string, port: number, logFile: string, pidFile: string,
 *   log?: (m: string) => void }} options
 */
export async function startOwnNats({
  configFile,
  host,
  port,
  logFile,
  pidFile,
  log = (m) => process.stdout.write(`[infra] ${m}\n`),
}) {
  const nats = SERVICES[0];
  const t = { host, port };
  if (await accepting(t)) {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGHUP');
      log(`NATS of an earlier start (pid ${pid}) is up on ${where(t)}; configuration reloaded`);
      return undefined;
    }
    throw new InfraError(
      `port ${port} (our own NATS) is already in use by another process; stop it or choose another port with HEADY_NATS_PORT=...`,
    );
  }
  if (!onPath(nats.bin)) installMissing([{ svc: nats }], log);
  log(`starting our own NATS (authenticated, JetStream) on ${where(t)}, config ${configFile}`);
  const child = spawn(nats.bin, ['-c', configFile, '-l', logFile, '-P', pidFile], {
    stdio: 'ignore',
  });
  child.on('error', (e) => log(`nats-server: ${e.message}`));
  const deadline = Date.now() + WAIT_MS;
  while (!(await accepting(t))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new InfraError(
        `our own NATS did not start on ${where(t)}; see ${logFile}:\n${tail(logFile)}`,
      );
    await sleep(100);
  }
  log(`NATS is up on ${where(t)}; only its nkey users may connect`);
  return child;
}

/**
 * Makes sure NATS (with JetStream), PostgreSQL and Redis accept connections. Throws on
 * failure. With `skipNats`, NATS is left to the caller (npm start runs its own).
 */
export async function ensureInfrastructure({
  log = (m) => process.stdout.write(`[infra] ${m}\n`),
  skipNats = false,
} = {}) {
  const all = SERVICES.map((svc) => ({ svc, t: svc.target() })).filter(
    ({ svc }) => !skipNats || svc.name !== 'NATS',
  );
  const up = await Promise.all(all.map(({ t }) => accepting(t)));
  const down = all.filter((_, i) => !up[i]);
  for (const { svc, t } of all.filter((_, i) => up[i])) log(`${svc.name} is up on ${where(t)}`);

  const remote = down.filter(({ t }) => !LOCAL.has(t.host));
  if (remote.length)
    throw new InfraError(
      remote
        .map(
          ({ svc, t }) =>
            `${svc.name} at ${where(t)} is not reachable (not a local address, so not started here)`,
        )
        .join('\n'),
    );

  installMissing(
    down.filter(({ svc }) => !onPath(svc.bin)),
    log,
  );

  for (const { svc, t } of down) {
    if (await accepting(t)) {
      log(`${svc.name} is up on ${where(t)} (started by its package)`);
      continue;
    }
    log(`starting ${svc.name} on ${where(t)}`);
    try {
      svc.start(t, log);
    } catch (e) {
      throw new InfraError(
        `could not start ${svc.name}: ${e.message}` +
          (isRoot() ? '' : ' (starting the Debian-packaged servers this way needs root)'),
      );
    }
    await waitFor(svc, t);
    log(`${svc.name} is up on ${where(t)}`);
  }

  const nats = all.find(({ svc }) => svc.name === 'NATS')?.t;
  if (nats) {
    const js = await probeJetStream(nats);
    // this probe speaks no nkey authentication: a server that wants one is checked by the services
    if (!js.ok && process.env.HEADY_NATS_NKEY_FILE && /authorization/i.test(js.reason))
      log(
        'NATS asks for credentials (HEADY_NATS_NKEY_FILE); JetStream is checked when the services connect',
      );
    else if (!js.ok)
      throw new InfraError(
        `NATS on ${where(nats)} does not serve JetStream (${js.reason}). Restart it with JetStream on, e.g.\n` +
          '  nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server',
      );
    else log('NATS JetStream answers');
  }

  const pg = /** @type {{ svc: { name: string }, t: { host: string, port: number } }} */ (
    all.find(({ svc }) => svc.name === 'PostgreSQL')
  ).t;
  if (LOCAL.has(pg.host)) await checkPostgresLogin(pg, log);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureInfrastructure().then(
    () => process.stdout.write('[infra] NATS, PostgreSQL and Redis are ready\n'),
    (e) => {
      process.stderr.write(`[infra] ${e instanceof InfraError ? e.message : e.stack}\n`);
      process.exit(1);
    },
  );
}

/** Command-line tools the deploy tests need (test/deploy), by Debian package. */
const DEPLOY_TOOLS = [
  { name: 'promtool', pkg: 'prometheus', bin: 'promtool' },
  { name: 'prometheus', pkg: 'prometheus', bin: 'prometheus' },
  { name: 'kubectl', pkg: 'kubernetes-client', bin: 'kubectl' },
];

/**
 * Installs promtool and Prometheus (Debian's `prometheus`) and kubectl (`kubernetes-client`)
 * when missing, as root; otherwise throws naming the packages. Installing `prometheus` on a
 * machine with systemd starts a service on :9090: the tests start their own server on a free
 * port and never use it.
 */
export function ensureDeployTools({ log = (m) => process.stdout.write(`[infra] ${m}\n`) } = {}) {
  const missing = DEPLOY_TOOLS.filter((t) => !onPath(t.bin));
  const unique = missing.filter((t, i) => missing.findIndex((u) => u.pkg === t.pkg) === i);
  installMissing(
    unique.map((svc) => ({ svc })),
    log,
  );
}
