import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVICE_NAMES } from '@heady/contracts';
import { ensureDevKeys } from '@heady/pqc';
import { createApiKey, createDb, ensureOrganization } from '@heady/db';
import { type TestNatsServer } from './nats-server.js';
import { freePort } from './ports.js';

/** The repository root, found from this file (libs/testing/dist/stack.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The services a stack runs as processes. */
export type ServiceName =
  | 'gateway'
  | 'conductor'
  | 'pipeline'
  | 'vector-memory'
  | 'workers'
  | 'knowledge-vault'
  | 'billing'
  | 'device-sync';

/** One Heady service running as its own OS process from its build output. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private out: WriteStream | undefined;
  /** Every stdout/stderr line the process has written, across restarts. */
  readonly lines: string[] = [];
  /**
   * Environment over the stack's for the next starts, e.g. to restart one process with
   * another setting (`NODE_OPTIONS`, a shorter timeout); `{}` restores the stack's.
   */
  extraEnv: Record<string, string> = {};

  constructor(
    readonly name: ServiceName,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logFile: string,
    /** The gateway's ops port (/readyz, /metrics); the others serve them on `port`. */
    readonly opsPort: number = port,
  ) {}

  /** Base URL of the process's HTTP port (API for the gateway, ops endpoints for the others). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Base URL of the process's ops endpoints (/healthz, /readyz, /metrics). */
  get opsUrl(): string {
    return `http://127.0.0.1:${this.opsPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns `node services/<name>/dist/main.js` and waits until `/readyz` answers 200. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.out ??= createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'services', this.name, 'dist', 'main.js')],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...this.env, ...this.extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    // never outlive the test or benchmark that started us
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    let buf = '';
    const onData = (d: Buffer): void => {
      this.out?.write(d);
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    await this.waitReady(timeoutMs);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(
          `${this.name} exited (${this.child?.exitCode ?? this.child?.signalCode}) before it was ready:\n${this.lines.slice(-20).join('\n')}`,
        );
      }
      try {
        const res = await fetch(`${this.opsUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${this.name} not ready within ${timeoutMs} ms:\n${this.lines.slice(-20).join('\n')}`,
    );
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.kill('SIGTERM');
    await new Promise<void>((r) => (this.out ? this.out.end(r) : r()));
    this.out = undefined;
  }
}

/** Options for {@link startStack}. */
export interface StackOptions {
  /** The nats-server to use without credentials; or give `nats`. */
  natsUrl?: string;
  /**
   * The test's own nats-server: each service connects as its own NATS user (with
   * `startNatsServer({ auth: true })`) and `heady` as `operator`.
   */
  nats?: Pick<TestNatsServer, 'env'>;
  databaseUrl: string;
  services?: ServiceName[];
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** How many gateway processes to run (replicas sharing Redis and PostgreSQL); 1 unless given. */
  gatewayReplicas?: number;
  /**
   * Pipeline processes to run, each with its own extra environment (e.g. its own
   * HEADY_PIPELINE_STAGES and HEADY_INSTANCE_ID); one with the common environment unless given.
   */
  pipelines?: Record<string, string>[];
  /** Extra environment of the billing process (its Stripe keys, e.g. a fake Stripe's). */
  billing?: Record<string, string>;
}

/** The services started as separate processes against the given infrastructure. */
export interface Stack {
  dataDir: string;
  gatewayUrl: string;
  /** An admin (RESTRICTED) API key of an Enterprise organization, for `Authorization: Bearer`. */
  apiKey: string;
  services: Record<ServiceName, ServiceProcess>;
  /** Every gateway replica; the first is `services.gateway`. */
  gateways: ServiceProcess[];
  /** Every pipeline process; the first is `services.pipeline`. */
  pipelines: ServiceProcess[];
  /**
   * Runs `heady --json <args>` against this stack (its NATS, database and keys, plus `env`)
   * and returns the parsed output.
   */
  heady(args: string[], env?: Record<string, string>): Promise<unknown>;
  stop(): Promise<void>;
}

/** Runs the `heady` CLI from its build output with `env` over this process's; returns stdout. */
export async function runHeady(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'libs/cli/dist/main.js'), ...args],
    { timeout: 20_000, env: { ...process.env, ...env } },
  );
  return stdout;
}

/** Starts conductor, pipeline and gateway (in that order) and waits until each is ready. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'heady-stack-'));
  // every message is signed: a fresh root and service identities per stack (billing's too,
  // so a test can publish billing events as the billing service would)
  ensureDevKeys(join(dataDir, 'keys'), SERVICE_NAMES);
  const natsEnv = (user: string): Record<string, string> => {
    if (opts.nats) return opts.nats.env(user);
    if (opts.natsUrl) return { NATS_URL: opts.natsUrl };
    throw new Error('startStack needs natsUrl or nats');
  };
  const base = {
    NODE_ENV: 'test',
    DATABASE_URL: opts.databaseUrl,
    HEADY_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    // a Redis key prefix of this stack's own, so rate-limit windows never mix between tests
    HEADY_REDIS_PREFIX: `heady-test:${randomBytes(4).toString('hex')}:`,
    ...opts.env,
  };
  const made = new Map<ServiceName, number>();
  const make = async (
    name: ServiceName,
    extra: Record<string, string> = {},
  ): Promise<ServiceProcess> => {
    const port = await freePort();
    const opsPort = name === 'gateway' ? await freePort() : port;
    const own = { ...base, ...natsEnv(name), ...extra };
    const env: Record<string, string> =
      name === 'gateway'
        ? { ...own, HEADY_GATEWAY_PORT: String(port), HEADY_OPS_PORT: String(opsPort) }
        : { ...own, HEADY_OPS_PORT: String(port) };
    const n = made.get(name) ?? 0;
    made.set(name, n + 1);
    const log = join(dataDir, `${name}${n ? `-${n}` : ''}.log`);
    return new ServiceProcess(name, port, env, log, opsPort);
  };
  const pipelineEnvs = opts.pipelines?.length ? opts.pipelines : [{}];
  const services = {
    conductor: await make('conductor'),
    pipeline: await make('pipeline', pipelineEnvs[0]),
    'vector-memory': await make('vector-memory'),
    workers: await make('workers'),
    'knowledge-vault': await make('knowledge-vault'),
    billing: await make('billing', opts.billing ?? {}),
    'device-sync': await make('device-sync'),
    gateway: await make('gateway'),
  };
  // every service `npm start` runs unless the suite names some, but the knowledge vault (suites
  // that search it ask for it, the others spare its start) and billing (which needs Stripe
  // keys: name it with `billing` env)
  const wanted =
    opts.services ??
    (['conductor', 'pipeline', 'vector-memory', 'workers', 'device-sync', 'gateway'] as const);
  const gateways = [services.gateway];
  for (let i = 1; i < (opts.gatewayReplicas ?? 1); i++) gateways.push(await make('gateway'));
  const pipelines = [services.pipeline];
  for (const extra of pipelineEnvs.slice(1)) pipelines.push(await make('pipeline', extra));
  const all = [...Object.values(services), ...gateways.slice(1), ...pipelines.slice(1)];
  try {
    for (const name of wanted) {
      await services[name].start();
      // the other pipeline processes right after the first, before anything depends on them
      if (name === 'pipeline') await Promise.all(pipelines.slice(1).map((p) => p.start()));
    }
    if (wanted.includes('gateway')) for (const g of gateways.slice(1)) await g.start();
  } catch (e) {
    await Promise.all(all.map((s) => s.dispose()));
    throw e;
  }
  const db = createDb({ url: opts.databaseUrl, poolMax: 1 });
  let apiKey: string;
  try {
    const org = await ensureOrganization(db, 'stack', 'ENTERPRISE');
    apiKey = (await createApiKey(db, { orgId: org.id, name: 'stack', role: 'admin' })).key;
  } finally {
    await db.destroy();
  }
  return {
    dataDir,
    gatewayUrl: services.gateway.url,
    apiKey,
    services,
    gateways,
    pipelines,
    async heady(args, env = {}) {
      const out = await runHeady(['--json', ...args], {
        ...natsEnv('operator'),
        DATABASE_URL: opts.databaseUrl,
        HEADY_DATA_DIR: dataDir,
        ...env,
      });
      return JSON.parse(out) as unknown;
    },
    async stop() {
      await Promise.all(all.map((s) => s.dispose()));
    },
  };
}
