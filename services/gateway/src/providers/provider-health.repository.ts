import { type GatewayConfig } from '@heady/config';
import { UnavailableError } from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { closeRedis, gatewayRedis } from '../redis/redis-client.js';

/** One provider's breaker as the workers last shared it. */
export interface ProviderBreaker {
  provider: string;
  state: 'closed' | 'open';
  since: number;
  until: number | null;
  instance: string;
}

/**
 * The providers' circuit breakers as the workers share them in Redis (hash
 * `<prefix>providers:breakers`, written by services/workers on every change).
 */
@Injectable()
export class ProviderHealthRepository implements OnModuleDestroy {
  private readonly redis: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    this.redis = gatewayRedis(config, log, "the providers' health cannot be read");
  }

  /** Every provider a workers process has reported, by name. */
  async all(): Promise<ProviderBreaker[]> {
    const raw = await this.redis
      .hgetall(`${this.config.rateLimit.redisPrefix}providers:breakers`)
      .catch((err: unknown) => {
        throw new UnavailableError('redis', { cause: err });
      });
    return Object.values(raw)
      .map((v) => JSON.parse(v) as ProviderBreaker)
      .sort((a, b) => a.provider.localeCompare(b.provider));
  }

  async onModuleDestroy(): Promise<void> {
    await closeRedis(this.redis);
  }
}
