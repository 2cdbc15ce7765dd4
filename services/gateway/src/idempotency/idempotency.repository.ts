import { type GatewayConfig } from '@heady/config';
import { rethrowUnavailable } from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { closeRedis, gatewayRedis } from '../redis/redis-client.js';

/** What is kept under an idempotency key. */
export type IdempotencyEntry =
  | { state: 'pending'; fingerprint: string; token: string }
  | {
      state: 'done';
      fingerprint: string;
      status: number;
      /** The response body, AES-256-GCM under a key only the caller can derive (base64url). */
      sealed: string;
    };

/** Claims the key unless taken; returns the existing entry (JSON) when it is. */
const CLAIM_LUA = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/** Replaces (or deletes, when ARGV[2] is empty) the entry only while it is still our pending claim. */
const SETTLE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local e = cjson.decode(v)
if e['state'] ~= 'pending' or e['token'] ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

type WithScripts = Redis & {
  idemClaim(key: string, entry: string, lockMs: number): Promise<string | null>;
  idemSettle(key: string, token: string, entry: string, ttlMs: number): Promise<number>;
};

/**
 * Idempotency keys in Redis: claimed atomically, settled only by their claimant. Redis being
 * away is an `UnavailableError`.
 */
@Injectable()
export class IdempotencyRepository implements OnApplicationShutdown {
  private readonly redis: WithScripts;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) log: Logger,
  ) {
    this.redis = gatewayRedis(
      config,
      log,
      'Idempotency-Key is not enforced by the gateway',
    ) as WithScripts;
    this.redis.defineCommand('idemClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    this.redis.defineCommand('idemSettle', { numberOfKeys: 1, lua: SETTLE_LUA });
  }

  /** The Redis key of an idempotency key (its SHA-256 only) for a caller and route. */
  key(scope: string, route: string, keyHash: string): string {
    return `${this.config.rateLimit.redisPrefix}idem:${scope}:${route}:${keyHash}`;
  }

  /** Claims `key` for `HEADY_IDEMPOTENCY_LOCK_MS`; undefined when claimed, else what holds it. */
  async claim(
    key: string,
    entry: Extract<IdempotencyEntry, { state: 'pending' }>,
  ): Promise<IdempotencyEntry | undefined> {
    const v = await this.redis
      .idemClaim(key, JSON.stringify(entry), this.config.idempotency.lockMs)
      .catch((e: unknown) => rethrowUnavailable(e, 'redis'));
    return v === null ? undefined : (JSON.parse(v) as IdempotencyEntry);
  }

  /** Stores the response for `HEADY_IDEMPOTENCY_TTL_MS` in place of our claim. */
  async complete(
    key: string,
    token: string,
    entry: Extract<IdempotencyEntry, { state: 'done' }>,
  ): Promise<void> {
    await this.redis
      .idemSettle(key, token, JSON.stringify(entry), this.config.idempotency.ttlMs)
      .catch((e: unknown) => rethrowUnavailable(e, 'redis'));
  }

  /** Drops our claim, so the key can be used again. */
  async release(key: string, token: string): Promise<void> {
    await this.redis
      .idemSettle(key, token, '', 0)
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
