import { loadCliConfig } from '@heady/config';
import { AuditLogRepository, OrganizationsRepository } from '@heady/db';
import { type Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { withDb } from '../connect.js';
import { type Output, table } from '../output.js';
import { type BanView, BansRepository } from '../repositories/bans.repository.js';

async function withBans<T>(fn: (bans: BansRepository) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  const bans = await BansRepository.connect(config.redis.url, config.redisPrefix);
  try {
    return await fn(bans);
  } finally {
    bans.close();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The ban subjects `target` names: an IP address; an API key or its prefix (`hk_` + at
 * least 8 characters: its organization); an organization id; or an organization name.
 */
async function subjectsOf(target: string): Promise<string[]> {
  if (isIP(target)) return [`ip:${target}`];
  if (UUID.test(target)) return [`org:${target.toLowerCase()}`];
  return withDb(async (db) => {
    const orgs = new OrganizationsRepository(db);
    if (target.startsWith('hk_')) {
      if (target.length < 11) throw new Error('an API key prefix is hk_ and at least 8 characters');
      const ids = await orgs.idsByKeyPrefix(target.slice(0, 11));
      if (!ids.length) throw new Error(`no API key starts with ${target.slice(0, 11)}`);
      return ids.map((id) => `org:${id}`);
    }
    const org = await orgs.find(target);
    if (!org)
      throw new Error(`${target} is neither an IP address, an API key prefix nor an organization`);
    return [`org:${org.id}`];
  });
}

/** Records the lift in `audit_logs`, as the other operator actions are. */
async function auditLift(lifted: BanView[]): Promise<void> {
  if (!lifted.length) return;
  await withDb((db) =>
    new AuditLogRepository(db).insertMany(
      lifted.map((b) => ({
        id: randomUUID(),
        actor: 'operator:cli',
        action: 'BAN_LIFTED',
        target: b.subject,
        status: 'ok',
        details: { ...b, until: new Date(b.until).toISOString() },
        timestamp: new Date(),
      })),
    ),
  );
}

/** `heady bans ls | lift`. */
export function bansCommands(program: Command, out: Output): void {
  const bans = program
    .command('bans')
    .description('gateway auto-bans: IPs and organizations that kept sending after their 429s');
  bans
    .command('ls')
    .description('live bans with their evidence and expiry')
    .action(async () => {
      const rows = await withBans((b) => b.list());
      out.result(rows, (v) =>
        v.length === 0
          ? 'no bans'
          : table(
              ['subject', 'org', 'key', 'ip', 'route', '429s', 'first', 'last', 'until'],
              v.map((b) => [
                b.subject,
                b.orgName ?? '-',
                b.keyPrefix ? `${b.keyPrefix}…` : '-',
                b.ip,
                b.route,
                `${b.count}/${Math.round(b.windowMs / 1000)}s`,
                new Date(b.firstAt).toISOString(),
                new Date(b.lastAt).toISOString(),
                new Date(b.until).toISOString(),
              ]),
            ),
      );
    });
  bans
    .command('lift <target>')
    .description('lift the ban of an IP, an API key prefix (its organization), or an organization')
    .action(async (target: string) => {
      const subjects = await subjectsOf(target);
      const lifted = await withBans(async (b) => {
        const live = (await b.list()).filter((x) => subjects.includes(x.subject));
        for (const s of subjects) await b.lift(s);
        return live;
      });
      await auditLift(lifted);
      out.result({ target, subjects, lifted: lifted.length }, (v) =>
        v.lifted
          ? `lifted ${v.lifted} ban(s): ${v.subjects.join(', ')}`
          : `no live ban for ${v.subjects.join(', ')}`,
      );
    });
}
