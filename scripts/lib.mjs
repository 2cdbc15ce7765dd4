// Helpers shared by scripts/start.mjs and scripts/test.mjs. Plain Node, no dependencies:
// they run before `pnpm install`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One plain line, prefixed with its source: `[tag] message`. No colours. */
export const log = (tag, msg) => process.stdout.write(`[${tag}] ${msg}\n`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

let pnpmCmd;
/** How to run pnpm 10: the one on PATH when its major is 10, else `npx -y pnpm@10`. */
export function pnpm() {
  if (!pnpmCmd) {
    const r = spawnSync('pnpm', ['--version'], { encoding: 'utf8', cwd: ROOT });
    pnpmCmd = r.status === 0 && /^10\./.test(r.stdout.trim()) ? ['pnpm'] : ['npx', '-y', 'pnpm@10'];
  }
  return pnpmCmd;
}

/** Runs a command from the repository root with inherited output; rejects on a non-zero exit. */
export function run(cmd, args, opts = {}) {
  /** @type {Promise<void>} */
  const done = new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`)),
    );
  });
  return done;
}

/** Runs pnpm (see pnpm()) with `args`. */
export function runPnpm(args, opts) {
  const [cmd, ...pre] = pnpm();
  return run(cmd, [...pre, ...args], opts);
}

/** Installs dependencies when node_modules is missing or older than pnpm-lock.yaml. */
export async function installIfNeeded() {
  const marker = join(ROOT, 'node_modules', '.modules.yaml');
  const lock = join(ROOT, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('setup', `installing dependencies (${pnpm().join(' ')} install --frozen-lockfile)`);
  await runPnpm(['install', '--frozen-lockfile']);
}

/** Builds every package with the workspace's turbo (cached when nothing changed). */
export async function build() {
  log('setup', 'building (turbo run build)');
  await runPnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}

/**
 * Resolves when `url` answers 200; rejects after `timeoutMs`, or as soon as `isAlive()`
 * says the process behind it has gone.
 */
export async function waitHttp(url, timeoutMs = 30_000, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the process behind ${url} exited`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${(await res.text()).slice(0, 200)}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}
