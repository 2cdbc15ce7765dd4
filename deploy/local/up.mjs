#!/usr/bin/env node
// Brings up NATS (with JetStream), PostgreSQL and Redis on this machine when they are
// not running: starts an installed one, installs a missing one with apt when root
// (Debian/Ubuntu), otherwise says what to install. Plain Node, no dependencies: it runs
// before `pnpm install`. Honours NATS_URL, DATABASE_URL and REDIS_URL (only local hosts
// are managed). Usage: node deploy/local/up.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function target(envUrl, fallback) {
  const u = new URL(envUrl || fallback);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port) || Number(new URL(fallback).port),
  };
}

function accepting({ host, port }, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(t, name, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await accepting(t)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${name} did not start listening on ${t.host}:${t.port} within ${timeoutMs / 1000} s`,
  );
}

const has = (bin) =>
  spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0 || existsSync(bin);
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const run = (cmd, args, log) => {
  log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
};

let aptUpdated = false;
function aptInstall(pkg, log) {
  if (!isRoot() || !has('apt-get')) {
    throw new Error(
      `${pkg} is not installed. Install the Debian/Ubuntu package '${pkg}' (sudo apt-get install ${pkg}), or point the URL variables at running servers.`,
    );
  }
  if (!aptUpdated) run('apt-get', ['update', '-qq'], log);
  aptUpdated = true;
  run('apt-get', ['install', '-y', '-qq', pkg], log);
}

const services = [
  {
    name: 'NATS',
    pkg: 'nats-server',
    bin: '/usr/sbin/nats-server',
    target: () => target(process.env.NATS_URL?.split(',')[0], 'nats://127.0.0.1:4222'),
    start: (t, log) => {
      const store = '/var/lib/nats-server';
      run('mkdir', ['-p', store], log);
      run(
        'start-stop-daemon',
        [
          '--start',
          '--oknodo',
          '--background',
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
    target: () => target(process.env.DATABASE_URL, 'postgres://127.0.0.1:5432/heady'),
    start: (_t, log) => {
      const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
      if (!versions.length)
        throw new Error('PostgreSQL is installed but has no cluster under /etc/postgresql');
      run(
        'pg_ctlcluster',
        ['--skip-systemctl-redirect', versions.sort().at(-1), 'main', 'start'],
        log,
      );
    },
  },
  {
    name: 'Redis',
    pkg: 'redis-server',
    bin: 'redis-server',
    target: () => target(process.env.REDIS_URL, 'redis://127.0.0.1:6379'),
    start: (t, log) => {
      run('mkdir', ['-p', '/var/lib/redis', '/var/log/redis'], log);
      run(
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

/** Checks that JetStream answers on the NATS server (a server started without -js does not). */
function jetStreamEnabled({ host, port }) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => done(false), 3000);
    const done = (ok) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('INFO ') && !buf.includes('SUB')) {
        s.write(
          'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.heady.up 1\r\nPUB $JS.API.INFO _INBOX.heady.up 0\r\n\r\nPING\r\n',
        );
        buf += 'SUB';
      }
      if (/MSG _INBOX\.heady\.up 1 \d+\r\n[^\r]*/.test(buf))
        done(!/503|"error"/.test(buf.split('MSG _INBOX.heady.up')[1] ?? ''));
      if (/HMSG _INBOX\.heady\.up/.test(buf)) done(false); // no responders: JetStream off
    });
    s.on('error', () => done(false));
  });
}

/** Makes sure NATS (JetStream), PostgreSQL and Redis accept connections. */
export async function ensureInfrastructure({
  log = (m) => process.stdout.write(`[infra] ${m}\n`),
} = {}) {
  for (const svc of services) {
    const t = svc.target();
    if (await accepting(t)) {
      log(`${svc.name} is up on ${t.host}:${t.port}`);
    } else if (!LOCAL.has(t.host)) {
      throw new Error(
        `${svc.name} at ${t.host}:${t.port} is not reachable (not a local address, so not started here)`,
      );
    } else {
      if (!has(svc.bin)) aptInstall(svc.pkg, log);
      log(`starting ${svc.name} on ${t.host}:${t.port}`);
      svc.start(t, log);
      await waitFor(t, svc.name);
      log(`${svc.name} is up on ${t.host}:${t.port}`);
    }
    if (svc.name === 'NATS' && !(await jetStreamEnabled(t))) {
      throw new Error(
        `the NATS server on ${t.host}:${t.port} does not have JetStream enabled; restart it with -js (e.g. nats-server -js -sd /var/lib/nats-server)`,
      );
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureInfrastructure().catch((e) => {
    process.stderr.write(`[infra] ${e.message}\n`);
    process.exit(1);
  });
}
