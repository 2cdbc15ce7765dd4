import { type GatewayConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { gatewayRedis } from '../redis/redis-client.js';
import { ACQUIRE_STREAM_LUA, RENEW_STREAM_LUA } from './stream-leases.lua.js';

/** How long a lease lives without renewal: the slots of a gateway that died free after it. */
export const LEASE_MS = 30_000;

type WithScripts = Redis & {
  acquireStream(key: string, cap: number, id: string, leaseMs: number): Promise<number>;
  renewStream(key: string, id: string, leaseMs: number): Promise<number>;
};

/** One taken stream slot; `release` frees it (idempotent). */
export interface StreamLease {
  id: string;
  release(): Promise<void>;
}

/**
 * The open event streams of each API key, shared by every gateway in Redis
 * (`<prefix>sse:<keyId>`): a slot is a lease renewed while its stream is open. When Redis
 * does not answer, this process counts its own streams against the same cap instead
 * (a cap per replica then, never none).
 */
@Injectable()
export class StreamLeasesRepository implements OnModuleInit, OnModuleDestroy {
  private readonly redis: WithScripts;
  /** Leases taken in this process, per holder (the fallback count, and what renewal renews). */
  private readonly local = new Map<string, Set<string>>();
  private readonly renewal: NodeJS.Timeout;

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.redis = gatewayRedis(
      config,
      log,
      'open event streams are capped per gateway process',
    ) as WithScripts;
    this.redis.defineCommand('acquireStream', { numberOfKeys: 1, lua: ACQUIRE_STREAM_LUA });
    this.redis.defineCommand('renewStream', { numberOfKeys: 1, lua: RENEW_STREAM_LUA });
    this.renewal = setInterval(() => void this.renewAll(), LEASE_MS / 3);
    this.renewal.unref();
  }

  /**
   * Waits (1 s at most) for Redis, so the first streams after a start are counted across
   * gateways rather than in this process only.
   */
  async onModuleInit(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      this.redis.once('ready', done);
    });
  }

  private key(holder: string): string {
    return `${this.config.rateLimit.redisPrefix}sse:${holder}`;
  }

  /** Takes a slot of `holder`, or answers undefined when it already holds `cap`. */
  async acquire(holder: string, cap: number): Promise<StreamLease | undefined> {
    const id = randomUUID();
    const mine = this.local.get(holder) ?? new Set<string>();
    let taken: boolean;
    try {
      taken = (await this.redis.acquireStream(this.key(holder), cap, id, LEASE_MS)) === 1;
    } catch (err) {
      this.log.debug({ err }, 'stream cap checked in process: redis did not answer');
      taken = mine.size < cap;
    }
    if (!taken) return undefined;
    mine.add(id);
    this.local.set(holder, mine);
    let released = false;
    return {
      id,
      release: async () => {
        if (released) return;
        released = true;
        mine.delete(id);
        if (!mine.size) this.local.delete(holder);
        await this.redis.zrem(this.key(holder), id).catch(() => undefined);
      },
    };
  }

  private async renewAll(): Promise<void> {
    for (const [holder, ids] of this.local)
      for (const id of ids)
        await this.redis.renewStream(this.key(holder), id, LEASE_MS).catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.renewal);
    this.redis.disconnect();
    await Promise.resolve();
  }
}
