import { type GatewayConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import {
  type BanRecord,
  banKey,
  rejectionsKey,
  rethrowUnavailable,
  UnavailableError,
} from '@heady/contracts';
import { Redis } from 'ioredis';
import { closeRedis } from '../redis/redis-client.js';
import { DeadlineExceededError, withDeadline } from '../redis/deadline.js';
import { SLIDING_WINDOW_LUA } from './sliding-window.lua.js';

/** One admission decision of a window. */
export interface WindowHit {
  allowed: boolean;
  remaining: number;
  /** ms until a slot frees up (the oldest request leaves the window). */
  resetMs: number;
}

/** A request refused because its IP or organization is banned. */
export interface BanHit {
  banned: BanRecord;
  /** ms until the ban expires. */
  expiresInMs: number;
  /** True for the one request whose 429 tripped the ban. */
  fresh: boolean;
}

/** What the gateway knows of the request when it asks Redis. */
export interface HitRequest {
  /** `ip:<address>` or `org:<id>`: the window that counts it and the subject a ban would name. */
  bucket: BanRecordSubject;
  ip: string;
  /** 0 = unlimited: only bans are checked. */
  limit: number;
  windowMs: number;
  /** What a new ban records besides the counts (route, organization, key prefix). */
  evidence: Omit<BanRecord, 'count' | 'windowMs' | 'firstAt' | 'lastAt' | 'bannedAt' | 'until'>;
  /**
   * Another window of the same subject (its 429s and ban are the subject's): `authfail`
   * counts an address's unknown or revoked API keys.
   */
  window?: 'authfail';
  /** Look without counting a request that fits (a refusal still counts towards the ban). */
  peek?: boolean;
}
type BanRecordSubject = BanRecord['subject'];

type WithScript = Redis & {
  slidingWindow(
    window: string,
    rejections: string,
    ban: string,
    ipBan: string,
    limit: number,
    windowMs: number,
    banThreshold: number,
    banWindowMs: number,
    banTtlMs: number,
    evidence: string,
    peek: string,
  ): Promise<[number, number, number, string]>;
};

/**
 * The shared sliding-window counters in Redis. Fails fast (never queues) when Redis is away,
 * and gives up on an answer after `HEADY_REDIS_TIMEOUT_MS` — but never on one that has
 * already arrived while the process was busy (see {@link withDeadline}): falling back then
 * would admit a request Redis has already counted, and break exactness across replicas.
 */
@Injectable()
export class RateLimitRepository implements OnApplicationShutdown {
  private readonly redis: WithScript;
  private lastErrorLog = 0;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.redis = new Redis(config.redis.url, {
      // the deadline that decides is withDeadline's (it tolerates a process that is behind);
      // this one only reclaims commands of a Redis that hangs
      commandTimeout: Math.max(1000, 10 * config.rateLimit.redisTimeoutMs),
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 250,
    }) as WithScript;
    this.redis.defineCommand('slidingWindow', { numberOfKeys: 4, lua: SLIDING_WINDOW_LUA });
    this.redis.on('error', (err: Error) => {
      if (Date.now() - this.lastErrorLog < 5000) return;
      this.lastErrorLog = Date.now();
      this.log.warn(
        { err },
        'redis unreachable: rate limits fall back to this process, bans are not checked',
      );
    });
  }

  /**
   * Checks the bans of the bucket and of the client IP, then counts one request in the
   * bucket if it fits; a refusal is logged towards the ban threshold and may ban the
   * bucket (atomically, once). Throws an `UnavailableError` when Redis is away or does not
   * answer in time.
   */
  async hit(r: HitRequest): Promise<WindowHit | BanHit> {
    const prefix = this.config.rateLimit.redisPrefix;
    const bans = this.config.bans;
    const [allowed, remaining, reset, ban] = await withDeadline(
      this.redis.slidingWindow(
        `${prefix}rl:${r.window ? `${r.window}:` : ''}${r.bucket}`,
        rejectionsKey(prefix, r.bucket),
        banKey(prefix, r.bucket),
        banKey(prefix, `ip:${r.ip}`),
        r.limit,
        r.windowMs,
        bans.threshold,
        bans.windowMs,
        bans.ttlMs,
        JSON.stringify(r.evidence),
        r.peek ? '1' : '0',
      ),
      this.config.rateLimit.redisTimeoutMs,
    ).catch((e: unknown) => {
      // no answer in time is Redis being away as much as a refused connection is
      if (e instanceof DeadlineExceededError) throw new UnavailableError('redis', { cause: e });
      return rethrowUnavailable(e, 'redis');
    });
    if (allowed < 0)
      return {
        banned: JSON.parse(ban) as BanRecord,
        expiresInMs: Math.max(0, reset),
        fresh: allowed === -2,
      };
    return { allowed: allowed === 1, remaining: Math.max(0, remaining), resetMs: reset };
  }

  /**
   * After the HTTP server has closed (Nest runs this hook last), so requests still in flight
   * at shutdown settle their Redis state; then QUIT, which waits for commands already sent.
   */
  async onApplicationShutdown(): Promise<void> {
    await closeRedis(this.redis);
  }
}
