import { type VectorMemoryConfig } from '@heady/config';
import {
  type EmbeddingProvider,
  LocalHashEmbedder,
  OpenAICompatibleEmbedder,
} from './embeddings.js';

/** Injection token of the process's {@link EmbeddingProvider}. */
export const EMBEDDER = Symbol('heady.vector-memory.embedder');

/** The embedding provider the configuration names; `onFailure` hears a provider's failures in full. */
export function createEmbedder(
  config: VectorMemoryConfig,
  onFailure?: (err: Error) => void,
): EmbeddingProvider {
  const e = config.embeddings;
  return e.provider === 'local'
    ? new LocalHashEmbedder(config.memory.dimensions)
    : new OpenAICompatibleEmbedder({
        baseUrl: e.baseUrl,
        model: e.model,
        dimensions: config.memory.dimensions,
        ...(e.apiKey ? { apiKey: e.apiKey } : {}),
        ...(onFailure ? { onFailure } : {}),
      });
}
