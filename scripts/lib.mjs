// Helpers shared by scripts/start.mjs and scripts/test.mjs. Plain Node: they run before install.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const log = (tag, msg) => process.stdout.write(`[${tag}] ${msg}\n`);

/** pnpm 10: the one on PATH when it is major 10, else `npx -y pnpm@10`. */
export function pnpm() {
  const r = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim().startsWith('10.')) return ['pnpm'];
  return ['npx', '-y', 'pnpm@10'];
}

/** Runs a command with inherited output; rejects on a non-zero exit. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`)),
    );
  });
}

/** Installs dependencies when node_modules is missing or older than the lockfile. */
export async function installIfNeeded() {
  const marker = join(ROOT, 'node_modules', '.modules.yaml');
  const lock = join(ROOT, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('setup', 'installing dependencies (pnpm install --frozen-lockfile)');
  const [cmd, ...pre] = pnpm();
  await run(cmd, [...pre, 'install', '--frozen-lockfile']);
}

/** Builds every package with turbo (cached when nothing changed). */
export async function build() {
  log('setup', 'building (turbo run build)');
  const [cmd, ...pre] = pnpm();
  await run(cmd, [...pre, 'exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}

/** Resolves when `url` answers 200, rejects after `timeoutMs`. */
export async function waitHttp(url, timeoutMs = 30_000, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the process behind ${url} exited`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
}
