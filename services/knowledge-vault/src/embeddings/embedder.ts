import { type KnowledgeVaultConfig } from '@heady/config';
import { LocalHashEmbedder, OpenAICompatibleProvider } from '@heady/providers';

/** Injection token of the process's {@link PassageEmbedder}. */
export const EMBEDDER = Symbol('heady.knowledge-vault.embedder');

/** The provider went wrong (unreachable, an error answer, a vector of another size). */
export class EmbeddingUnavailableError extends Error {
  override readonly name = 'EmbeddingUnavailableError';
}

/** Turns passages into vectors; what it is recorded on every embedding row. */
export interface PassageEmbedder {
  /** `embeddings.provider`: LOCAL (in process) or CLOUD (an OpenAI-compatible server). */
  readonly provider: 'LOCAL' | 'CLOUD';
  readonly model: string;
  readonly dims: number;
  /** Vectors in the order of `texts`; {@link EmbeddingUnavailableError} when the provider fails. */
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** The model name recorded for the local embedder (FNV feature hashing of words and trigrams). */
export const LOCAL_EMBEDDING_MODEL = 'local-hash-v1';

/** Texts sent to a provider in one request. */
const BATCH = 64;

/** The local, weight-free embedder: words and character trigrams hashed into `dims`. */
export class LocalPassageEmbedder implements PassageEmbedder {
  readonly provider = 'LOCAL' as const;
  readonly model = LOCAL_EMBEDDING_MODEL;
  private readonly hash: LocalHashEmbedder;
  constructor(readonly dims: number) {
    this.hash = new LocalHashEmbedder(dims);
  }
  embed(texts: string[]): Promise<Float32Array[]> {
    return this.hash.embed(texts);
  }
}

/** An OpenAI-compatible `/embeddings` endpoint, in batches; any failure is "provider down". */
export class CloudPassageEmbedder implements PassageEmbedder {
  readonly provider = 'CLOUD' as const;
  constructor(
    private readonly client: OpenAICompatibleProvider,
    readonly model: string,
    readonly dims: number,
  ) {}

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += BATCH) {
      let vectors: Float32Array[];
      try {
        vectors = (await this.client.embed({ texts: texts.slice(i, i + BATCH), timeoutMs: 30_000 }))
          .vectors;
      } catch (e) {
        throw new EmbeddingUnavailableError(`embedding provider failed: ${(e as Error).message}`, {
          cause: e,
        });
      }
      for (const v of vectors)
        if (v.length !== this.dims)
          throw new EmbeddingUnavailableError(
            `embedding provider returned ${v.length} dimensions; the vault uses ${this.dims}`,
          );
      out.push(...vectors);
    }
    return out;
  }
}

/** The embedder the configuration names. */
export function createEmbedder(config: KnowledgeVaultConfig): PassageEmbedder {
  const e = config.embeddings;
  if (e.provider === 'local') return new LocalPassageEmbedder(config.vault.dimensions);
  const client = new OpenAICompatibleProvider({
    name: 'vault-embeddings',
    // the base URL as vector memory reads HEADY_EMBEDDINGS_URL: without the API version
    baseURL: `${e.baseUrl.replace(/\/+$/, '')}/v1`,
    model: e.model,
    embeddingModel: e.model,
    ...(e.apiKey ? { apiKey: e.apiKey } : {}),
  });
  return new CloudPassageEmbedder(client, e.model, config.vault.dimensions);
}
