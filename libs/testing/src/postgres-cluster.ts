import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** Where Debian puts PostgreSQL 15's server binaries (`HEADY_PG_BIN` overrides). */
export const PG_BIN = process.env.HEADY_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Whether `initdb` and `pg_ctl` are installed, so a test can start a cluster of its own. */
export function postgresClusterAvailable(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

/** A PostgreSQL cluster a test started for itself: its own data directory, port and socket. */
export interface TestPostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string;
  port: number;
  dataDir: string;
  /** A URL of a database `name` on this cluster. */
  urlOf(name: string): string;
  /** `pg_ctl stop -m fast`: clients are disconnected, the data stays. */
  stopServer(): Promise<void>;
  /** `pg_ctl start` on the same port and data directory; resolves once it accepts connections. */
  startServer(): Promise<void>;
  /** Stops the server (immediate) and removes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * Runs a PostgreSQL tool; as root it runs as the `postgres` OS user (initdb refuses root),
 * otherwise as whoever we are.
 */
async function pgTool(tool: string, args: string[]): Promise<string> {
  const bin = join(PG_BIN, tool);
  const asRoot = userInfo().uid === 0;
  const { stdout } = asRoot
    ? await run('runuser', ['-u', 'postgres', '--', bin, ...args], { timeout: 60_000 })
    : await run(bin, args, { timeout: 60_000 });
  return stdout;
}

/**
 * Creates a throw-away PostgreSQL cluster with `initdb` in a temporary directory (owned by
 * the `postgres` user when we are root), listening on 127.0.0.1 and a free port with its
 * unix socket in that directory, trust authentication, and starts it with `pg_ctl`.
 * `destroy()` stops it and removes the directory; it is also done at process exit, so a
 * failed test leaves nothing running.
 */
export async function startPostgresCluster(): Promise<TestPostgresCluster> {
  if (!postgresClusterAvailable()) throw new Error(`initdb/pg_ctl not found in ${PG_BIN}`);
  const root = mkdtempSync(join(tmpdir(), 'heady-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  if (userInfo().uid === 0) {
    // the directory belongs to the postgres user, who runs every tool below
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(root, Number(stdout.trim()), Number(gid.trim()));
  }
  chmodSync(root, 0o700);
  const port = await freePort();
  let destroyed = false;
  const reap = (): void => {
    // last resort at exit (synchronous): immediate shutdown, then the directory goes
    try {
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        const bin = join(PG_BIN, 'pg_ctl');
        const args = ['-D', dataDir, 'stop', '-m', 'immediate', '-w'];
        if (userInfo().uid === 0) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args]);
        else execFileSync(bin, args);
      }
    } catch {
      // already down
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', reap);

  try {
    await pgTool('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--no-sync',
    ]);
  } catch (e) {
    process.removeListener('exit', reap);
    reap();
    throw e;
  }
  const opts = [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=${root}`,
    `-c fsync=off`,
    `-c max_connections=200`,
  ].join(' ');
  const startServer = async (): Promise<void> => {
    await pgTool('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
  };
  const stopServer = async (): Promise<void> => {
    await pgTool('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  };
  try {
    await startServer();
  } catch (e) {
    process.removeListener('exit', reap);
    reap();
    throw e;
  }
  const urlOf = (name: string): string => `postgres://postgres@127.0.0.1:${port}/${name}`;
  return {
    url: urlOf('postgres'),
    port,
    dataDir,
    urlOf,
    startServer,
    stopServer,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      process.removeListener('exit', reap);
      await pgTool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(
        () => undefined,
      );
      rmSync(root, { recursive: true, force: true });
    },
  };
}
