import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A change between two commits, as `git diff --name-status` reports it (renames as delete + add). */
export interface GitChange {
  status: 'A' | 'M' | 'D';
  path: string;
}

/** A local git repository, read at its commits (never its working tree). */
export class GitRepository {
  constructor(readonly dir: string) {}

  private async git(args: string[]): Promise<string> {
    const { stdout } = await run('git', ['-C', this.dir, ...args], {
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  }

  /** The full id of HEAD. */
  async head(): Promise<string> {
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  /** The repository's name: its top-level folder's. */
  async name(): Promise<string> {
    return basename((await this.git(['rev-parse', '--show-toplevel'])).trim());
  }

  /** Whether `commit` exists here (a cursor from a rewritten history may not). */
  async has(commit: string): Promise<boolean> {
    return this.git(['cat-file', '-e', `${commit}^{commit}`]).then(
      () => true,
      () => false,
    );
  }

  /** Every file path at `commit`. */
  async files(commit: string): Promise<string[]> {
    return (await this.git(['ls-tree', '-r', '-z', '--name-only', commit]))
      .split('\0')
      .filter(Boolean);
  }

  /** What changed from `from` to `to`, renames as a delete and an add. */
  async diff(from: string, to: string): Promise<GitChange[]> {
    const parts = (await this.git(['diff', '--name-status', '-z', '--no-renames', from, to]))
      .split('\0')
      .filter(Boolean);
    const out: GitChange[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const s = (parts[i] as string)[0];
      const path = parts[i + 1] as string;
      // T (type change) and the rest read as a modification
      out.push({ status: s === 'A' ? 'A' : s === 'D' ? 'D' : 'M', path });
    }
    return out;
  }

  /** A file's bytes at `commit`. */
  async read(commit: string, path: string): Promise<Buffer> {
    const { stdout } = await run('git', ['-C', this.dir, 'show', `${commit}:${path}`], {
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'buffer',
    });
    return stdout;
  }
}
