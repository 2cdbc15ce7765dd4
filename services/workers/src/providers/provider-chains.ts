import { type WorkersConfig } from '@heady/config';
import {
  type Database,
  type Kysely,
  ModelProvidersRepository,
  type ModelProviderSpec,
} from '@heady/db';
import { loadLocalModel, type ModelProvider, ProviderChain, providerOf } from '@heady/providers';
import { CONFIG, DB, LOGGER } from '@heady/runtime';
import { gauge, type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { BreakerBoard } from './breaker-board.js';
import { RequestBudgets } from './request-budgets.js';

/** How long an opened breaker skips its provider before it tries it again. */
export const HALF_OPEN_AFTER_MS = 30_000;

/** The states a breaker can be in, each a series of the gauge below. */
const BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;
const breakerState = gauge(
  'heady_provider_breaker_state',
  "1 for the state each provider's circuit breaker is in (closed, open, half-open, isolated), 0 for the others",
  ['provider', 'state'] as const,
);

/** Sets the breaker gauge of `provider` to `state`. */
function showBreaker(provider: string, state: string): void {
  for (const s of BREAKER_STATES) breakerState.set({ provider, state: s }, s === state ? 1 : 0);
}

/** How often a workers process looks for changed providers in `model_providers`. */
export const PROVIDERS_RELOAD_MS = 2_000;

/**
 * The provider chain of each service group: the providers that serve it, in order (primary,
 * then fallbacks). Groups served by the same providers share one chain, so a provider's
 * breaker, concurrency limit and requests-per-minute budget (shared by all workers processes
 * through Redis) are counted once for all of them. The providers are data:
 * `model_providers` (seeded from HEADY_PROVIDERS on a first start, then changed with `heady
 * providers set|rm`) is read at start and again whenever it changes; a change builds new
 * chains for the tasks that start after it (tasks under way finish on the old ones).
 */
@Injectable()
export class ProviderChains implements OnModuleInit, OnApplicationShutdown {
  private providers: { spec: ModelProviderSpec; provider: ModelProvider }[];
  private readonly table: ModelProvidersRepository;
  private version = '';
  private seeded = false;
  private reload: NodeJS.Timeout | undefined;
  private readonly chains = new Map<string, { chain: ProviderChain; members: string[] }>();
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly board: BreakerBoard;
  private readonly budgets: RequestBudgets;

  constructor(
    @Inject(CONFIG) private readonly config: WorkersConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(DB) db: Kysely<Database>,
  ) {
    this.table = new ModelProvidersRepository(db);
    this.providers = this.build(config.providers);
    const redis = () => {
      const r = new Redis(config.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 1000 });
      r.on('error', () => undefined); // the board logs what it could not share
      return r;
    };
    this.redis = redis();
    this.subscriber = redis();
    this.budgets = new RequestBudgets(this.redis, config.redisPrefix);
    this.board = new BreakerBoard(
      this.redis,
      this.subscriber,
      config.redisPrefix,
      config.instanceId,
      HALF_OPEN_AFTER_MS,
      {
        hold: (p) => this.each(p, (c) => c.forceOpen(p)),
        release: (p) => this.each(p, (c) => c.forceClose(p)),
      },
      this.log,
    );
  }

  /** Providers from their settings; one whose settings cannot make it is left out, and said so. */
  private build(specs: readonly ModelProviderSpec[]) {
    const built: { spec: ModelProviderSpec; provider: ModelProvider }[] = [];
    for (const spec of specs) {
      try {
        built.push({ spec, provider: providerOf(spec) });
        showBreaker(spec.name, 'closed');
      } catch (err) {
        this.log.error({ err, provider: spec.name }, 'model provider left out');
      }
    }
    return built;
  }

  /** Reads `model_providers` and rebuilds the chains when it changed. */
  private async refresh(): Promise<void> {
    if (!this.seeded) {
      if (await this.table.seed(this.config.providers))
        this.log.info('model_providers seeded from HEADY_PROVIDERS');
      this.seeded = true;
    }
    const version = await this.table.version();
    if (version === this.version) return;
    const specs = await this.table.enabled();
    this.version = version;
    this.providers = this.build(specs);
    this.chains.clear();
    this.log.info({ providers: specs.map((p) => p.name) }, 'model providers loaded');
  }

  async onModuleInit(): Promise<void> {
    // until PostgreSQL answers, the process runs on HEADY_PROVIDERS
    await this.refresh().catch((err: unknown) =>
      this.log.warn({ err }, 'model providers not read; running on HEADY_PROVIDERS for now'),
    );
    this.reload = setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.log.warn({ err }, 'model providers not reloaded; keeping the ones loaded'),
      );
    }, PROVIDERS_RELOAD_MS);
    this.reload.unref();
    // the first local answer should not wait for the English model to load
    if (this.providers.some((p) => p.spec.kind === 'local')) loadLocalModel();
    try {
      await this.board.start(this.providers.map((p) => p.spec.name));
    } catch (err) {
      // without Redis each process keeps its own breakers
      this.log.warn({ err }, 'redis unreachable: breaker state is not shared with other workers');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.reload);
    this.board.stop();
    this.subscriber.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Runs `fn` on every chain `provider` is a member of. */
  private each(provider: string, fn: (c: ProviderChain) => void): void {
    for (const { chain, members } of this.chains.values())
      if (members.includes(provider)) fn(chain);
  }

  /** The chain serving `group`; throws when no provider serves it. */
  for(group: string): ProviderChain {
    const members = this.providers.filter((p) => !p.spec.groups || p.spec.groups.includes(group));
    if (!members.length) throw new Error(`no model provider serves the group "${group}"`);
    const names = members.map((m) => m.spec.name);
    const key = names.join(',');
    let entry = this.chains.get(key);
    if (!entry) {
      const chain = new ProviderChain({
        group: key,
        providers: members.map((m) => ({
          provider: m.provider,
          guard: {
            concurrency: m.spec.concurrency,
            queue: m.spec.concurrency * 4,
            halfOpenAfterMs: HALF_OPEN_AFTER_MS,
            ...(m.spec.rpm ? { budget: this.budgets.of(m.spec.name, m.spec.rpm) } : {}),
          },
        })),
      });
      chain.onBreakerStateChange((provider, state) => {
        showBreaker(provider, state);
        this.board.changed(provider, state);
      });
      // providers another process holds open are open in a new chain too
      for (const n of names) if (this.board.holds(n)) chain.forceOpen(n);
      entry = { chain, members: names };
      this.chains.set(key, entry);
    }
    return entry.chain;
  }
}
