import { loadCliConfig } from '@heady/config';
import {
  PLANS,
  ROLES,
  createApiKey,
  ensureOrganization,
  findActiveApiKey,
  hashApiKey,
  listApiKeys,
  revokeApiKey,
} from '@heady/db';
import { type Command, Option } from 'commander';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withDb } from '../connect.js';
import { type Output, table } from '../output.js';

type Plan = (typeof PLANS)[number];
type Role = (typeof ROLES)[number];

/** What `.heady/credentials.json` holds: development keys, never committed (the data dir is git-ignored). */
export interface DevCredentials {
  gateway: string;
  admin: { key: string; org: string; plan: Plan; role: Role };
  demo: { key: string; org: string; plan: Plan; role: Role };
}

function readCredentials(file: string): DevCredentials | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevCredentials;
  } catch {
    return undefined;
  }
}

/** `heady apikeys create | ls | revoke | dev`. */
export function apikeysCommands(program: Command, out: Output): void {
  const keys = program
    .command('apikeys')
    .description('gateway API keys (hk_...): shown once at creation, stored hashed');
  keys
    .command('create')
    .description('create a key for an organization (created with --plan when missing)')
    .requiredOption('--org <name>', 'organization name')
    .option('--name <name>', 'what the key is for', 'cli')
    .addOption(new Option('--role <role>', 'role of the key').choices(ROLES).default('member'))
    .addOption(
      new Option('--plan <plan>', 'plan of a new organization').choices(PLANS).default('FREE'),
    )
    .action(async (opts: { org: string; name: string; role: Role; plan: Plan }) => {
      const r = await withDb(async (db) => {
        const org = await ensureOrganization(db, opts.org, opts.plan);
        return createApiKey(db, { orgId: org.id, name: opts.name, role: opts.role });
      });
      out.result(
        { key: r.key, ...r.info },
        (v) =>
          `created ${v.role} key ${v.id} for ${v.orgName}\n${v.key}\n(this is the only time the key is shown)`,
      );
    });
  keys
    .command('ls')
    .description('list keys (never the keys themselves)')
    .option('--org <name>', 'only this organization')
    .action(async (opts: { org?: string }) => {
      const rows = await withDb(async (db) => {
        const all = await listApiKeys(db);
        return opts.org ? all.filter((k) => k.orgName === opts.org) : all;
      });
      out.result(rows, (v) =>
        table(
          ['id', 'prefix', 'org', 'name', 'role', 'created', 'last used', 'revoked'],
          v.map((k) => [
            k.id,
            `${k.prefix}…`,
            k.orgName,
            k.name,
            k.role,
            k.createdAt,
            k.lastUsedAt ?? '-',
            k.revokedAt ?? '-',
          ]),
        ),
      );
    });
  keys
    .command('revoke <id>')
    .description('revoke a key: it is refused from the next request on')
    .action(async (id: string) => {
      const ok = await withDb((db) => revokeApiKey(db, id));
      if (!ok) throw new Error(`no API key ${id}`);
      out.result({ id, revoked: true }, (v) => `revoked ${v.id}`);
    });
  keys
    .command('dev')
    .description(
      'write a development admin key and a Free demo key to <data dir>/credentials.json unless it already holds live keys (npm start runs this)',
    )
    .option('--gateway <url>', 'gateway URL to record', 'http://127.0.0.1:8080')
    .action(async (opts: { gateway: string }) => {
      const file = join(loadCliConfig().dataDir, 'credentials.json');
      const r = await withDb(async (db) => {
        const have = readCredentials(file);
        if (
          have &&
          (await findActiveApiKey(db, hashApiKey(have.admin.key))) &&
          (await findActiveApiKey(db, hashApiKey(have.demo.key)))
        )
          return { file, created: false, creds: have };
        const adminOrg = await ensureOrganization(db, 'dev', 'ENTERPRISE');
        const demoOrg = await ensureOrganization(db, 'demo', 'FREE');
        const admin = await createApiKey(db, {
          orgId: adminOrg.id,
          name: 'dev admin',
          role: 'admin',
        });
        const demo = await createApiKey(db, { orgId: demoOrg.id, name: 'demo', role: 'member' });
        const creds: DevCredentials = {
          gateway: opts.gateway,
          admin: { key: admin.key, org: adminOrg.name, plan: adminOrg.plan, role: 'admin' },
          demo: { key: demo.key, org: demoOrg.name, plan: demoOrg.plan, role: 'member' },
        };
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
        chmodSync(file, 0o600);
        return { file, created: true, creds };
      });
      out.result(
        { file: r.file, created: r.created },
        (v) =>
          `${v.created ? 'wrote' : 'kept'} development API keys (admin, Free demo) in ${v.file}`,
      );
    });
}
