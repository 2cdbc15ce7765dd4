import { type ProviderSpec, type WorkersConfig } from '@heady/config';
import {
  AnthropicProvider,
  LocalProvider,
  type ModelProvider,
  OpenAICompatibleProvider,
  ProviderChain,
} from '@heady/providers';
import { CONFIG } from '@heady/runtime';
import { gauge } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';

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
export class ProviderChains {
  private readonly providers: { spec: ProviderSpec; provider: ModelProvider }[];
  private readonly chains = new Map<string, ProviderChain>();

  constructor(@Inject(CONFIG) config: WorkersConfig) {
    this.providers = config.providers.map((spec) => ({ spec, provider: providerOf(spec) }));
    for (const p of this.providers) showBreaker(p.spec.name, 'closed');
  }

  /** The chain serving `group`; throws when no provider serves it. */
  for(group: string): ProviderChain {
    const members = this.providers.filter((p) => !p.spec.groups || p.spec.groups.includes(group));
    if (!members.length) throw new Error(`no model provider serves the group "${group}"`);
    const key = members.map((m) => m.spec.name).join(',');
    let chain = this.chains.get(key);
    if (!chain) {
      chain = new ProviderChain({
        group: key,
        providers: members.map((m) => ({
          provider: m.provider,
          guard: { concurrency: m.spec.concurrency, queue: m.spec.concurrency * 4 },
        })),
      });
      chain.onBreakerStateChange(showBreaker);
      this.chains.set(key, chain);
    }
    return chain;
  }
}
