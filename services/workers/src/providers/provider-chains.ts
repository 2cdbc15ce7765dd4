import { type ProviderSpec, type WorkersConfig } from '@heady/config';
import {
  AnthropicProvider,
  loadLocalModel,
  LocalProvider,
  type ModelProvider,
  OpenAICompatibleProvider,
  ProviderChain,
} from '@heady/providers';
import { CONFIG, LOGGER } from '@heady/runtime';
import { gauge, type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { BreakerBoard } from './breaker-board.js';

/** How long an opened breaker skips its provider before it tries it again. */
export const HALF_OPEN_AFTER_MS = 30_000;

/** Builds one provider from its configuration; its API key is read from the variable it names. */
export function providerOf(
  spec: ProviderSpec,
  env: NodeJS.ProcessEnv = process.env,
): ModelProvider {
  const apiKey = spec.apiKeyEnv ? env[spec.apiKeyEnv] : undefined;
  if (spec.apiKeyEnv && !apiKey) {
    throw new Error(
      `provider ${spec.name}: the variable ${spec.apiKeyEnv} (its API key) is not set`,
    );
  }
  switch (spec.kind) {
    case 'local':
      return new LocalProvider({ name: spec.name });
    case 'openai-compatible':
      if (!spec.baseUrl || !spec.model) {
        throw new Error(`provider ${spec.name}: openai-compatible needs baseUrl and model`);
      }
      return new OpenAICompatibleProvider({
        name: spec.name,
        baseURL: spec.baseUrl,
        model: spec.model,
        ...(apiKey ? { apiKey } : {}),
      });
    case 'anthropic':
      if (!apiKey || !spec.model) {
        throw new Error(`provider ${spec.name}: anthropic needs apiKeyEnv and model`);
      }
      return new AnthropicProvider({
        name: spec.name,
        apiKey,
        model: spec.model,
        ...(spec.baseUrl ? { baseURL: spec.baseUrl } : {}),
      });
  }
}

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

/**
 * The provider chain of each service group: the configured providers that serve it, in
 * order (primary, then fallbacks). Groups served by the same providers share one chain, so a
 * provider's breaker and concurrency limit are counted once for all of them.
 */
@Injectable()
export class ProviderChains implements OnModuleInit, OnApplicationShutdown {
  private readonly providers: { spec: ProviderSpec; provider: ModelProvider }[];
  private readonly chains = new Map<string, { chain: ProviderChain; members: string[] }>();
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly board: BreakerBoard;

  constructor(
    @Inject(CONFIG) private readonly config: WorkersConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.providers = config.providers.map((spec) => ({ spec, provider: providerOf(spec) }));
    for (const p of this.providers) showBreaker(p.spec.name, 'closed');
    const redis = () => {
      const r = new Redis(config.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 1000 });
      r.on('error', () => undefined); // the board logs what it could not share
      return r;
    };
    this.redis = redis();
    this.subscriber = redis();
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

  async onModuleInit(): Promise<void> {
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
