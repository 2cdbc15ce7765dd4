import { spawnSync } from 'node:child_process';

/**
 * Fails (never skips) when a command-line tool the deploy tests need is missing: CI must
 * have it. deploy/local/up.mjs `ensureDeployTools` installs them on Debian as root.
 */
export function requireTool(bin: string, debianPackage: string): void {
  const r = spawnSync(bin, ['--help'], { stdio: 'ignore' });
  if (r.error)
    throw new Error(
      `${bin} is not installed: apt-get install -y ${debianPackage} (npm test installs it as root)`,
    );
}
