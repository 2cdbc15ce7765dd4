import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devTlsCertificates, ensureNkeyUsers, natsServerConfig, nkeySeedFile } from '@heady/bus';
import { type NodeConnectionOptions, nkeyAuthenticator } from '@nats-io/transport-node';
import { freePort } from './ports.js';

/** The nats-server binary: `HEADY_NATS_SERVER`, else Debian's. */
export const NATS_SERVER_BIN = process.env.HEADY_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A nats-server with JetStream that a test started for itself. */
export interface TestNatsServer {
  url: string;
  port: number;
  storeDir: string;
  /**
   * Whether only nkey users may connect (`startNatsServer({ auth: true })`): one per service
   * and `operator`, with the permissions of `natsPermissions`.
   */
  auth: boolean;
  /**
   * Environment that makes a Heady process connect as `user` (a service or `operator`):
   * `NATS_URL`, plus `HEADY_NATS_NKEY_FILE` when the server requires auth.
   */
  env(user: string): Record<string, string>;
  /** Options for `connect()` of `@nats-io/transport-node` as `user` (default `operator`). */
  connectOptions(user?: string): NodeConnectionOptions;
  /** Kills the server and removes its store. */
  stop(): Promise<void>;
  /** Kills and starts it again on the same port and store (messages survive). */
  restart(downMs?: number): Promise<void>;
  /** Kills it, keeping the store; `start()` brings it back. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** Whether the nats-server binary is installed (medium tests can skip without it). */
export function natsServerAvailable(): boolean {
  return existsSync(NATS_SERVER_BIN);
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Options of {@link startNatsServer}. */
export interface StartNatsServerOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Extra command-line arguments (e.g. `['-DV']` for protocol tracing). */
  args?: string[];
  /**
   * Require authentication: a generated configuration admits only the nkey users of
   * `ensureNkeyUsers` (every service and `operator`), each with its permissions, and refuses
   * anyone else. Off by default (tests that connect without credentials keep working).
   */
  auth?: boolean;
  /**
   * Require TLS (with `auth`): a development CA and a server certificate for 127.0.0.1
   * (`devTlsCertificates`); `env()` and `connectOptions()` trust that CA.
   */
  tls?: boolean;
}
/**
 * Starts `nats-server -js` on 127.0.0.1, a free port and a temporary store directory, and
 * waits until it accepts connections. `stop()` kills it and removes the store.
 */
export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<TestNatsServer> {
  const port = opts.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'heady-nats-'));
  let child: ChildProcess | undefined;
  let output = '';
  const auth = opts.auth ?? false;
  // seeds and configuration beside the store (removed with it by stop())
  const authDir = join(storeDir, 'auth');
  const confArgs: string[] = [];
  const caFile = join(authDir, 'ca.pem');
  const tls = opts.tls ?? false;
  if (tls && !auth) throw new Error('startNatsServer: tls needs auth');
  if (auth) {
    const users = ensureNkeyUsers(authDir);
    const conf = join(authDir, 'nats-server.conf');
    let tlsFiles;
    if (tls) {
      const pem = devTlsCertificates(['127.0.0.1', 'localhost']);
      writeFileSync(caFile, pem.caCert);
      writeFileSync(join(authDir, 'server-cert.pem'), pem.serverCert);
      writeFileSync(join(authDir, 'server-key.pem'), pem.serverKey, { mode: 0o600 });
      tlsFiles = {
        certFile: join(authDir, 'server-cert.pem'),
        keyFile: join(authDir, 'server-key.pem'),
      };
    }
    writeFileSync(
      conf,
      natsServerConfig({
        host: '127.0.0.1',
        port,
        storeDir: join(storeDir, 'js'),
        users,
        ...(tlsFiles ? { tls: tlsFiles } : {}),
      }),
    );
    confArgs.push('-c', conf);
  }
  const url = `nats://127.0.0.1:${port}`;

  const start = async (): Promise<void> => {
    child = spawn(
      NATS_SERVER_BIN,
      auth
        ? [...confArgs, ...(opts.args ?? [])]
        : ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, ...(opts.args ?? [])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${output.slice(-2000)}`);
      if (await accepting(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nats-server not accepting on ${port}: ${output.slice(-2000)}`);
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  };

  await start();
  return {
    url,
    port,
    storeDir,
    auth,
    env(user): Record<string, string> {
      return auth
        ? {
            NATS_URL: url,
            HEADY_NATS_NKEY_FILE: nkeySeedFile(authDir, user),
            ...(tls ? { HEADY_NATS_CA_FILE: caFile } : {}),
          }
        : { NATS_URL: url };
    },
    connectOptions(user = 'operator') {
      if (!auth) return { servers: url };
      const seed = readFileSync(nkeySeedFile(authDir, user), 'utf8').trim();
      return {
        servers: url,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
        ...(tls ? { tls: { caFile } } : {}),
      };
    },
    start,
    kill,
    async restart(downMs = 0) {
      await kill();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
