import { ErrorCode, HeadyError } from '@heady/contracts';

/** Turns texts into fixed-dimension vectors. */
export interface EmbeddingProvider {
  /** `local` or `openai-compatible:<model>`, reported in stats. */
  readonly name: string;
  readonly dimensions: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

// The offline provider lives in @heady/providers (its `local` provider embeds with it too),
// from the subpath that loads no model providers.
export { LocalHashEmbedder } from '@heady/providers/hash-embedder';

/**
 * A provider failure as the client sees it (UNAVAILABLE): never the provider's URL nor its
 * response body, which can name internal hosts or echo secrets; those stay in `cause`, for
 * this service's logs.
 */
function unavailable(what: string, cause: Error, log?: (err: Error) => void): HeadyError {
  log?.(cause);
  return new HeadyError(ErrorCode.Unavailable, `the embedding provider ${what}`, {}, { cause });
}

/** Options of {@link OpenAICompatibleEmbedder}. */
export interface OpenAICompatibleOptions {
  /** e.g. `https://api.openai.com`, `http://127.0.0.1:11434` (Ollama), a vLLM or TEI server. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  dimensions: number;
  timeoutMs?: number;
  /** Told the whole story (URL, status, body) of a provider failure the client sees only briefly. */
  onFailure?: (err: Error) => void;
}

/** `POST <baseUrl>/v1/embeddings`, the API OpenAI, Ollama, vLLM and TEI all serve. */
export class OpenAICompatibleEmbedder implements EmbeddingProvider {
  readonly name: string;
  readonly dimensions: number;
  constructor(private readonly opts: OpenAICompatibleOptions) {
    this.name = `openai-compatible:${opts.model}`;
    this.dimensions = opts.dimensions;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const url = `${this.opts.baseUrl.replace(/\/+$/, '')}/v1/embeddings`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
        },
        body: JSON.stringify({ model: this.opts.model, input: texts }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw unavailable(
        'is unreachable',
        new Error(`${url} unreachable`, { cause: e }),
        this.opts.onFailure,
      );
    }
    if (!res.ok) {
      const body = (await res.text().catch(() => '')).slice(0, 300);
      throw unavailable(
        `answered HTTP ${res.status}`,
        new Error(`${url} answered ${res.status}: ${body}`),
        this.opts.onFailure,
      );
    }
    const body = (await res.json()) as { data?: { index?: number; embedding?: unknown }[] };
    const data = [...(body.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (data.length !== texts.length)
      throw new HeadyError(
        ErrorCode.Unavailable,
        `embedding provider returned ${data.length} embeddings for ${texts.length} texts`,
      );
    return data.map((d) => {
      const e = d.embedding;
      if (!Array.isArray(e) || !e.every((x) => typeof x === 'number' && Number.isFinite(x)))
        throw new HeadyError(
          ErrorCode.Unavailable,
          'embedding provider returned a non-numeric vector',
        );
      if (e.length !== this.dimensions)
        throw new HeadyError(
          ErrorCode.Unavailable,
          `embedding provider returned ${e.length} dimensions; this deployment is fixed at ${this.dimensions} (HEADY_MEMORY_DIMENSIONS)`,
        );
      return Float32Array.from(e as number[]);
    });
  }
}
