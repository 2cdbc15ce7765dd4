import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** The nats-server binary: `HEADY_NATS_SERVER`, else Debian's. */
export const NATS_SERVER_BIN = process.env.HEADY_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A nats-server with JetStream that a test started for itself. */
export interface TestNatsServer {
  url: string;
  port: number;
  storeDir: string;
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

  const start = async (): Promise<void> => {
    child = spawn(
      NATS_SERVER_BIN,
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, ...(opts.args ?? [])],
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
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
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
