import { AnthropicProvider } from './anthropic.js';
import { LocalProvider } from './local/local-provider.js';
import { OpenAICompatibleProvider } from './openai-compatible.js';
import { type ModelProvider } from './types.js';

/** How a provider is configured (a `HEADY_PROVIDERS` entry, a `model_providers` row). */
export interface ProviderSettings {
  name: string;
  kind: 'local' | 'openai-compatible' | 'anthropic';
  baseUrl?: string;
  model?: string;
  /** The environment variable holding its API key. */
  apiKeyEnv?: string;
}

/** Builds one provider from its configuration; its API key is read from the variable it names. */
export function providerOf(
  spec: ProviderSettings,
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
