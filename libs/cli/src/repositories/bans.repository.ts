import { type BanRecord, banKey, rejectionsKey } from '@heady/contracts';
import { Redis } from 'ioredis';

/** A ban as listed: the record and how long it still holds. */
export interface BanView extends BanRecord {
  expiresInMs: number;
}

/**
 * The gateway's auto-bans in Redis, as an operator sees and lifts them (the gateway's
 * `RateLimitRepository` sets them, under the same prefix and keys).
 */
export class BansRepository {
  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Connects to `url` (failing fast when Redis is away); `close()` when done. */
  static async connect(url: string, prefix: string): Promise<BansRepository> {
    const redis = new Redis(url, {
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    try {
      await redis.connect();
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    return new BansRepository(redis, prefix);
  }

  /** Every live ban under the prefix, soonest-expiring last. */
  async list(): Promise<BanView[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(
        cursor,
        'MATCH',
        banKey(this.prefix, '*'),
        'COUNT',
        500,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const bans: BanView[] = [];
    for (const k of keys) {
      const [raw, ttl] = await Promise.all([this.redis.get(k), this.redis.pttl(k)]);
      if (raw === null || ttl < 0) continue; // expired between SCAN and GET
      try {
        bans.push({ ...(JSON.parse(raw) as BanRecord), expiresInMs: ttl });
      } catch {
        // not one of ours
      }
    }
    return bans.sort((a, b) => b.until - a.until);
  }

  /** Deletes the ban of `subject` and its rejection log, so its next request starts afresh. */
  async lift(subject: string): Promise<void> {
    const rejections = rejectionsKey(this.prefix, subject);
    await this.redis.del(banKey(this.prefix, subject), rejections, `${rejections}:seq`);
  }

  close(): void {
    this.redis.disconnect();
  }
}
