export {
  type CallOptions,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type ChatRole,
  type ChatStreamEvent,
  type ContextPassage,
  type EmbedRequest,
  type EmbedResult,
  type FinishReason,
  type ModelProvider,
  type ProviderKind,
  type Usage,
} from './types.js';
export {
  isProviderError,
  isRateLimited,
  ProviderError,
  ProviderErrorKind,
  type ProviderErrorOptions,
} from './errors.js';
export { countTokens } from './tokens.js';
export { OpenAICompatibleProvider, type OpenAICompatibleConfig } from './openai-compatible.js';
export { AnthropicProvider, type AnthropicConfig } from './anthropic.js';
export {
  LOCAL_MODEL,
  LOCAL_PREFACE,
  LocalProvider,
  type LocalConfig,
} from './local/local-provider.js';
export { LocalHashEmbedder } from './local/hash-embedder.js';
export { type Entity, loadLocalModel, type TextAnalysis } from './local/nlp.js';
export {
  type BreakerState,
  countsTowardBreaker,
  type GuardOptions,
  type RequestBudget,
} from './breaker.js';
export {
  type Attempt,
  type ChainChatResult,
  type ChainEmbedResult,
  type ChainMember,
  type ChainStreamEvent,
  isProviderChainError,
  ProviderChain,
  ProviderChainError,
  type ProviderChainOptions,
} from './chain.js';
export { providerOf, type ProviderSettings } from './provider-of.js';
