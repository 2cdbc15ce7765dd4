import { type CliConfig, loadCliConfig } from '@heady/config';
import { type BanRecord, banKey, rejectionsKey } from '@heady/contracts';
import { createDb } from '@heady/db';
import { type Command } from 'commander';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { type Output, table } from '../output.js';

/** A ban as listed: the record and how long it still holds. */
export interface BanView extends BanRecord {
  expiresInMs: number;
}

async function withRedis<T>(fn: (r: Redis, config: CliConfig) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  const redis = new Redis(config.redis.url, {
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  try {
    await redis.connect();
    return await fn(redis, config);
  } finally {
    redis.disconnect();
  }
}

/** Every live ban under the gateway's Redis prefix, soonest-expiring last. */
async function listBans(redis: Redis, prefix: string): Promise<BanView[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${banKey(prefix, '*')}`, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const bans: BanView[] = [];
  for (const k of keys) {
    const [raw, ttl] = await Promise.all([redis.get(k), redis.pttl(k)]);
    if (raw === null || ttl < 0) continue; // expired between SCAN and GET
    try {
      bans.push({ ...(JSON.parse(raw) as BanRecord), expiresInMs: ttl });
    } catch {
      // not one of ours
    }
  }
  return bans.sort((a, b) => b.until - a.until);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The ban subjects `target` names: an IP address; an API key or its prefix (`hk_` + at
 * least 8 characters: its organization); an organization id; or an organization name.
 */
async function subjectsOf(config: CliConfig, target: string): Promise<string[]> {
  if (isIP(target)) return [`ip:${target}`];
  if (UUID.test(target)) return [`org:${target.toLowerCase()}`];
  const db = createDb({ url: config.database.url, poolMax: 1, applicationName: 'heady-cli' });
  try {
    if (target.startsWith('hk_')) {
      if (target.length < 11) throw new Error('an API key prefix is hk_ and at least 8 characters');
      const rows = await db
        .selectFrom('api_keys')
        .select('org_id')
        .distinct()
        .where('prefix', '=', target.slice(0, 11))
        .execute();
      if (!rows.length) throw new Error(`no API key starts with ${target.slice(0, 11)}`);
      return rows.map((r) => `org:${r.org_id}`);
    }
    const org = await db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', target)
      .executeTakeFirst();
    if (!org)
      throw new Error(`${target} is neither an IP address, an API key prefix nor an organization`);
    return [`org:${org.id}`];
  } finally {
    await db.destroy();
  }
}

/** Records the lift in `audit_logs`, as the other operator actions are. */
async function auditLift(config: CliConfig, lifted: BanView[]): Promise<void> {
  if (!lifted.length) return;
  const db = createDb({ url: config.database.url, poolMax: 1, applicationName: 'heady-cli' });
  try {
    await db
      .insertInto('audit_logs')
      .values(
        lifted.map((b) => ({
          id: randomUUID(),
          actor: 'operator:cli',
          action: 'BAN_LIFTED',
          target: b.subject,
          status: 'ok',
          details: { ...b, until: new Date(b.until).toISOString() },
          timestamp: new Date(),
        })),
      )
      .execute();
  } finally {
    await db.destroy();
  }
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
      const rows = await withRedis((r, c) => listBans(r, c.redisPrefix));
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
      const config = loadCliConfig();
      const subjects = await subjectsOf(config, target);
      const lifted = await withRedis(async (r, c) => {
        const live = (await listBans(r, c.redisPrefix)).filter((b) => subjects.includes(b.subject));
        for (const s of subjects)
          await r.del(
            banKey(c.redisPrefix, s),
            rejectionsKey(c.redisPrefix, s),
            `${rejectionsKey(c.redisPrefix, s)}:seq`,
          );
        return live;
      });
      await auditLift(config, lifted);
      out.result({ target, subjects, lifted: lifted.length }, (v) =>
        v.lifted
          ? `lifted ${v.lifted} ban(s): ${v.subjects.join(', ')}`
          : `no live ban for ${v.subjects.join(', ')}`,
      );
    });
}
