import { AuditLogRepository, ModelProvidersRepository, type ModelProviderRow } from '@heady/db';
import { providerOf } from '@heady/providers';
import { type Command, InvalidArgumentError } from 'commander';
import { randomUUID } from 'node:crypto';
import { withDb } from '../connect.js';
import { type Output, table } from '../output.js';

const KINDS = ['local', 'openai-compatible', 'anthropic'] as const;
type Kind = (typeof KINDS)[number];

function kindOf(v: string): Kind {
  if (!(KINDS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`one of ${KINDS.join(', ')}`);
  return v as Kind;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number ≥ 1');
  return n;
}

function rpmOf(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
    throw new InvalidArgumentError('a whole number from 0 (no budget) to 1000000');
  return n;
}

/** Records an operator's change of a provider in `audit_logs`, as other operator actions are. */
async function audit(
  action: string,
  target: string,
  details: Record<string, unknown>,
): Promise<void> {
  await withDb((db) =>
    new AuditLogRepository(db).insert({
      id: randomUUID(),
      actor: 'operator:cli',
      action,
      target,
      status: 'ok',
      details,
      timestamp: new Date(),
    }),
  );
}

const listing = (rows: ModelProviderRow[]): string =>
  rows.length === 0
    ? 'no providers (the workers seed them from HEADY_PROVIDERS on their first start)'
    : table(
        ['#', 'name', 'kind', 'model', 'base url', 'key from', 'conc.', 'rpm', 'groups', 'enabled'],
        rows.map((r) => [
          String(r.position),
          r.name,
          r.kind,
          r.model ?? '-',
          r.baseUrl ?? '-',
          r.apiKeyEnv ? `$${r.apiKeyEnv}` : '-',
          String(r.concurrency),
          r.rpm ? String(r.rpm) : '-',
          r.groups?.join(',') ?? 'all',
          r.enabled ? 'yes' : 'no',
        ]),
      );

interface SetOptions {
  kind?: Kind;
  baseUrl?: string;
  model?: string;
  apiKeyEnv?: string;
  concurrency?: number;
  rpm?: number;
  groups?: string;
  position?: number;
  enable?: boolean;
}

/** `heady providers ls | set | rm | test`: the model providers the workers use, changed at run time. */
export function providersCommands(program: Command, out: Output): void {
  const providers = program
    .command('providers')
    .description(
      'model providers of the workers, in order of preference (changes apply within seconds)',
    );
  providers
    .command('ls')
    .description('every provider, in order: the first that serves a group is its primary')
    .action(async () => {
      const rows = await withDb((db) => new ModelProvidersRepository(db).all());
      out.result(rows, listing);
    });
  providers
    .command('set <name>')
    .description('add a provider, or change some of its settings')
    .option('--kind <kind>', `${KINDS.join(' | ')} (needed for a new provider)`, kindOf)
    .option('--base-url <url>', "the provider's API base URL ('' to clear)")
    .option('--model <model>', 'the model it is asked for')
    .option('--api-key-env <VAR>', 'the environment variable the workers read its API key from')
    .option('--concurrency <n>', 'calls in flight at once, per workers process', positive)
    .option('--rpm <n>', 'requests per minute for all workers together (0: no budget)', rpmOf)
    .option('--groups <list>', "service groups it serves, comma-separated ('' for every group)")
    .option('--position <n>', 'its place in the order (lower is tried first)', positive)
    .option('--enable', 'use it')
    .option('--no-enable', 'keep it, but do not use it')
    .action(async (name: string, o: SetOptions) => {
      const row = await withDb((db) =>
        new ModelProvidersRepository(db).set(
          {
            name,
            ...(o.kind ? { kind: o.kind } : {}),
            ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}),
            ...(o.model !== undefined ? { model: o.model } : {}),
            ...(o.apiKeyEnv !== undefined ? { apiKeyEnv: o.apiKeyEnv } : {}),
            ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
            ...(o.rpm !== undefined ? { rpm: o.rpm } : {}),
            ...(o.groups !== undefined
              ? {
                  groups: o.groups
                    .split(',')
                    .map((g) => g.trim())
                    .filter(Boolean),
                }
              : {}),
          },
          {
            ...(o.position !== undefined ? { position: o.position } : {}),
            ...(o.enable !== undefined ? { enabled: o.enable } : {}),
          },
        ),
      );
      await audit('PROVIDER_SET', name, { ...row, updatedAt: row.updatedAt.toISOString() });
      out.result(row, (r) => `provider ${r.name} set\n${listing([r])}`);
    });
  providers
    .command('rm <name>')
    .description('remove a provider')
    .action(async (name: string) => {
      const removed = await withDb((db) => new ModelProvidersRepository(db).remove(name));
      if (!removed) throw new Error(`no provider named ${name}`);
      await audit('PROVIDER_REMOVED', name, {});
      out.result({ name, removed }, () => `provider ${name} removed`);
    });
  providers
    .command('test <name>')
    .description('ask the provider one question from here, as a worker would, and time it')
    .option('--message <text>', 'the question', 'Say hello in five words.')
    .option('--timeout <ms>', 'give up after', positive, 30_000)
    .action(async (name: string, o: { message: string; timeout: number }) => {
      const row = (await withDb((db) => new ModelProvidersRepository(db).all())).find(
        (r) => r.name === name,
      );
      if (!row) throw new Error(`no provider named ${name}`);
      const provider = providerOf(row);
      const started = performance.now();
      const r = await provider.chat({
        messages: [{ role: 'user', content: o.message }],
        signal: AbortSignal.timeout(o.timeout),
        timeoutMs: o.timeout,
        taskId: `heady-providers-test:${randomUUID()}`,
      });
      const ms = Math.round(performance.now() - started);
      out.result(
        { name, model: r.model, ms, text: r.text, usage: r.usage, finishReason: r.finishReason },
        (v) =>
          `${v.name} (${v.model}) answered in ${v.ms} ms, ${v.usage.promptTokens}+${v.usage.completionTokens} tokens:\n${v.text}`,
      );
    });
}
