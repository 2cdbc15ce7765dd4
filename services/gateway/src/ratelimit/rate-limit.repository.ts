import { type GatewayConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { SLIDING_WINDOW_LUA } from './sliding-window.lua.js';

/** One admission decision of a window. */
export interface WindowHit {
  allowed: boolean;
  remaining: number;
  /** ms until a slot frees up (the oldest request leaves the window). */
  resetMs: number;
}

type WithScript = Redis & {
  slidingWindow(key: string, limit: number, windowMs: number): Promise<[number, number, number]>;
};

/** The shared sliding-window counters in Redis. Fails fast (never queues) when Redis is away. */
@Injectable()
export class RateLimitRepository implements OnModuleDestroy {
  private readonly redis: WithScript;
  private lastErrorLog = 0;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.redis = new Redis(config.redis.url, {
      commandTimeout: config.rateLimit.redisTimeoutMs,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 250,
    }) as WithScript;
    this.redis.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.redis.on('error', (err: Error) => {
      if (Date.now() - this.lastErrorLog < 5000) return;
      this.lastErrorLog = Date.now();
      this.log.warn({ err }, 'redis unreachable: rate limits fall back to this process');
    });
  }

  /** Counts one request in `bucket` if it fits; throws when Redis does not answer in time. */
  async hit(bucket: string, limit: number, windowMs: number): Promise<WindowHit> {
    const [allowed, remaining, resetMs] = await this.redis.slidingWindow(
      `${this.config.rateLimit.redisPrefix}rl:${bucket}`,
      limit,
      windowMs,
    );
    return { allowed: allowed === 1, remaining: Math.max(0, remaining), resetMs };
  }

  async onModuleDestroy(): Promise<void> {
    this.redis.disconnect();
    await Promise.resolve();
  }
}
