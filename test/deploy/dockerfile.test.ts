// The Dockerfile (docker build is not possible on these machines): its stages, a non-root
// runtime with only the pruned folders, and — for real — the `pnpm deploy --prod` command it
// runs for every service, after which each service's code loads from its own folder with
// only production dependencies. ~40 s (six pnpm deploys from the local store).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../deploy/k8s/generate.mjs';
import { pnpm } from '../../scripts/lib.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile
  .split('\n')
  .filter((l) => l.startsWith('FROM '))
  .map((l) => l.split(/\s+/));
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
/** The folders the Dockerfile deploys (`for p in …; do`). */
const deployed =
  /for p in ([^;]+); do/
    .exec(dockerfile)?.[1]
    ?.trim()
    .split(/\s+/)
    .filter((w) => w !== '\\') ?? [];
const deployArgs = /pnpm --filter="\.\/\$p" deploy ([^"]+)"/.exec(dockerfile)?.[1]?.trim();

describe('Dockerfile', () => {
  const out = mkdtempSync(join(tmpdir(), 'heady-deploy-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('builds in stages and runs as a non-root user with only the pruned folders', () => {
    expect(stages.map((s) => s.at(-1))).toEqual(['manifests', 'build', 'node:22-bookworm-slim']);
    expect(runtime).toContain('COPY --from=build /out ./');
    expect(runtime).not.toMatch(/COPY --from=build \/app/);
    expect(runtime).toMatch(/\nUSER node\n/);
    expect(runtime).not.toMatch(/pnpm install/);
  });

  it('deploys every service the manifests run, and the CLI of the migration Job', () => {
    const identities = [...new Set(SERVICES.map((s: { identity: string }) => s.identity))];
    expect([...deployed].sort()).toEqual(
      [...identities.map((i) => `services/${i}`), 'libs/cli'].sort(),
    );
    expect(deployArgs).toBe('--prod --legacy --prefer-offline');
  });

  // 40 s on a busy 2-core machine
  it('each service loads from its own pnpm deploy --prod folder, without dev dependencies', () => {
    for (const p of deployed) {
      const dir = join(out, p);
      // pnpm 10 as npm test runs it: the one on PATH, else through npx (a fresh machine has none)
      const [cmd = 'pnpm', ...pre] = pnpm() as string[];
      execFileSync(cmd, [...pre, `--filter=./${p}`, 'deploy', ...deployArgs!.split(' '), dir], {
        cwd: ROOT,
        stdio: 'pipe',
        env: { ...process.env, CI: 'true' },
      });
      expect(existsSync(join(dir, 'dist', 'main.js')), p).toBe(true);
      for (const dev of ['vitest', 'typescript', 'eslint'])
        expect(existsSync(join(dir, 'node_modules', dev)), `${p} has ${dev}`).toBe(false);
      // the service's whole module graph resolves from its folder (main.js would start it)
      const entry = p === 'libs/cli' ? 'dist/main.js' : 'dist/app.module.js';
      if (p === 'libs/cli')
        execFileSync(process.execPath, [join(dir, entry), '--help'], { stdio: 'pipe' });
      else
        execFileSync(
          process.execPath,
          ['--input-type=module', '-e', `await import(${JSON.stringify(join(dir, entry))})`],
          { cwd: dir, stdio: 'pipe', env: { ...process.env, NODE_ENV: 'production' } },
        );
    }
  }, 240_000);
});
