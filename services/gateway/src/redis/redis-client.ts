import { type GatewayConfig } from '@heady/config';
import { type Logger } from '@heady/telemetry';
import { Redis } from 'ioredis';

/**
 * A Redis connection for one gateway concern that fails fast instead of queueing: every
 * command gives up after `HEADY_REDIS_TIMEOUT_MS`, and nothing is sent while disconnected,
 * so a Redis outage costs a request at most that long. Errors are logged at most every 5 s.
 */
export function gatewayRedis(config: GatewayConfig, log: Logger, whenDown: string): Redis {
  const redis = new Redis(config.redis.url, {
    commandTimeout: config.rateLimit.redisTimeoutMs,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 250,
  });
  let lastErrorLog = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastErrorLog < 5000) return;
    lastErrorLog = Date.now();
    log.warn({ err }, `redis unreachable: ${whenDown}`);
  });
  return redis;
}

/** QUITs the connection (commands already sent are answered first); drops it when Redis is away. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  await redis.quit().catch(() => redis.disconnect());
}
