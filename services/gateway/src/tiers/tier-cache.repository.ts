import { type GatewayConfig } from '@heady/config';
import { rethrowUnavailable } from '@heady/contracts';
import { type Plan } from '@heady/db';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { closeRedis, gatewayRedis } from '../redis/redis-client.js';

/**
 * Each organization's plan in Redis (`<prefix>tier:<orgId>`), for `HEADY_TIER_CACHE_TTL_MS`;
 * Redis being away is an `UnavailableError`.
 */
@Injectable()
export class TierCacheRepository implements OnApplicationShutdown {
  private readonly redis: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    this.redis = gatewayRedis(config, log, 'plans are read from PostgreSQL only');
  }

  private key(orgId: string): string {
    return `${this.config.rateLimit.redisPrefix}tier:${orgId}`;
  }

  /** The cached plan; undefined on a miss. Throws when Redis does not answer in time. */
  async get(orgId: string): Promise<Plan | undefined> {
    const v = await this.redis
      .get(this.key(orgId))
      .catch((e: unknown) => rethrowUnavailable(e, 'redis'));
    return v === 'FREE' || v === 'PRO' || v === 'ENTERPRISE' ? v : undefined;
  }

  /** Caches `plan` for the TTL (replacing what was cached). */
  async set(orgId: string, plan: Plan): Promise<void> {
    await this.redis
      .set(this.key(orgId), plan, 'PX', this.config.tiers.cacheTtlMs)
      .catch((e: unknown) => rethrowUnavailable(e, 'redis'));
  }

  /**
   * After the HTTP server has closed (Nest runs this hook last), so requests still in flight
   * at shutdown settle their Redis state; then QUIT, which waits for commands already sent.
   */
  async onApplicationShutdown(): Promise<void> {
    await closeRedis(this.redis);
  }
}
