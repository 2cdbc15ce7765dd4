import { type VectorMemoryConfig } from '@heady/config';
import { AnnIndex } from '../index/ann-index.js';
import {
  type EmbeddingProvider,
  LocalHashEmbedder,
  OpenAICompatibleEmbedder,
} from './embeddings.js';
import { MemoryService } from '../memory/memory.service.js';
import { VectorStore } from '../memory/vectors.repository.js';

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

/** Opens the DuckDB store and brings the HNSW index in step with it. */
export async function openMemory(
  config: VectorMemoryConfig,
  onProviderFailure?: (err: Error) => void,
): Promise<{
  store: VectorStore;
  index: AnnIndex;
  service: MemoryService;
  close(): Promise<void>;
}> {
  const store = await VectorStore.open(config.memory.dbFile, config.memory.dimensions);
  const index = new AnnIndex(store, config.memory.indexDir, config.memory.hnsw);
  await index.open();
  const service = new MemoryService(store, index, createEmbedder(config, onProviderFailure));
  return {
    store,
    index,
    service,
    async close() {
      index.saveAll();
      await store.close();
    },
  };
}
