import { loadCliConfig } from '@heady/config';
import { type Command } from 'commander';
import { resolve } from 'node:path';
import { type Output } from '../output.js';
import { GitRepository } from '../repositories/git.repository.js';
import { KnowledgeApiRepository } from '../repositories/knowledge-api.repository.js';

/** Markdown and source files; everything else (images, lock files, data) stays out. */
const INGESTED =
  /\.(md|markdown|mdx|txt|rst|ts|tsx|js|jsx|mjs|cjs|py|go|rs|java|kt|rb|php|c|h|cc|cpp|hpp|cs|swift|scala|sh|sql|proto|ya?ml|toml)$/i;
const SKIPPED = /(^|\/)(node_modules|dist|vendor|\.git)\//;

/** Whether `path` is a file the vault takes from a repository. */
export function ingestedPath(path: string): boolean {
  return INGESTED.test(path) && !SKIPPED.test(path) && !/(^|\/)[^/]*lock\.ya?ml$/.test(path);
}

/** Files per request, and bytes of content per request (under NATS's 1 MiB message). */
const BATCH_FILES = 50;
const BATCH_BYTES = 400_000;

/** What one `heady vault ingest repo` did. */
interface RepoIngest {
  repo: string;
  commit: string;
  from: string | null;
  sent: number;
  deleted: number;
  stored: number;
  unchanged: number;
  refused: number;
}

export function vaultCommands(program: Command, out: Output): void {
  const vault = program
    .command('vault')
    .description("the knowledge vault (an API key's organization)");
  vault
    .command('ingest')
    .description('ingest a source into the vault')
    .command('repo <path>')
    .description(
      "a git repository's Markdown and source files at HEAD (source REPO, source id = path, metadata = commit); " +
        'incremental by `git diff` from the last commit ingested',
    )
    .option('--name <name>', "the repository's name in the vault (default: its folder's)")
    .option('--key <key>', 'API key (default HEADY_API_KEY)')
    .option('--gateway <url>', 'gateway (default HEADY_GATEWAY_URL)')
    .action(async (path: string, o: { name?: string; key?: string; gateway?: string }) => {
      const config = loadCliConfig();
      const key = o.key ?? config.gateway.apiKey;
      if (!key) throw new Error('an API key is needed: --key or HEADY_API_KEY');
      const api = new KnowledgeApiRepository(o.gateway ?? config.gateway.url, key);
      const git = new GitRepository(resolve(path));
      const repo = o.name ?? (await git.name());
      const commit = await git.head();
      const { commit: cursor } = await api.cursor(repo);
      // from the cursor when this history still has it, else every file
      const from = cursor && (await git.has(cursor)) ? cursor : null;
      const changes = from
        ? await git.diff(from, commit)
        : (await git.files(commit)).map((p) => ({ status: 'A' as const, path: p }));
      const wanted = changes.filter((c) => ingestedPath(c.path));
      const deletes = wanted.filter((c) => c.status === 'D').map((c) => c.path);
      const paths = wanted.filter((c) => c.status !== 'D').map((c) => c.path);
      const result: RepoIngest = {
        repo,
        commit,
        from,
        sent: 0,
        deleted: deletes.length,
        stored: 0,
        unchanged: 0,
        refused: 0,
      };
      const count = (receipts: { operation: string; stored: boolean; reason: string | null }[]) => {
        for (const r of receipts) {
          if (r.operation === 'STORE' && r.stored) result.stored++;
          else if (r.reason === 'duplicate') result.unchanged++;
          else if (r.operation !== 'DROP' || r.reason !== 'source_deleted') result.refused++;
        }
      };
      let batch: { path: string; content: string }[] = [];
      let bytes = 0;
      let pendingDeletes = deletes;
      const flush = async (final: boolean): Promise<void> => {
        const reply = await api.sync({
          repo,
          commit,
          upserts: batch,
          deletes: pendingDeletes,
          final,
        });
        count(reply.receipts);
        result.sent += batch.length;
        batch = [];
        bytes = 0;
        pendingDeletes = [];
      };
      for (const p of paths) {
        const data = await git.read(commit, p);
        if (data.includes(0)) continue; // binary, whatever its name says
        const content = data.toString('utf8');
        if (batch.length && (batch.length >= BATCH_FILES || bytes + data.length > BATCH_BYTES))
          await flush(false);
        batch.push({ path: p, content });
        bytes += data.length;
      }
      // the last batch moves the cursor (also when nothing changed: it confirms HEAD)
      await flush(true);
      out.result(
        result,
        (r) =>
          `${r.repo} at ${r.commit.slice(0, 12)} (from ${r.from ? r.from.slice(0, 12) : 'nothing'}): ` +
          `${r.sent} files sent, ${r.stored} stored, ${r.unchanged} unchanged, ${r.refused} refused, ${r.deleted} deleted`,
      );
    });
}
