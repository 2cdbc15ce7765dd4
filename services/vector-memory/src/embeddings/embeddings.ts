import { ErrorCode, HeadyError } from '@heady/contracts';

/** Turns texts into fixed-dimension vectors. */
export interface EmbeddingProvider {
  /** `local` or `openai-compatible:<model>`, reported in stats. */
  readonly name: string;
  readonly dimensions: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** 32-bit FNV-1a of a string (its UTF-16 code units), seeded. */
function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * The default, offline provider: **lexical and weight-free**. It is not a language
 * model and knows no synonyms; texts that share words and word fragments land near
 * each other, texts that share none do not. Each word (weight 1) and each character
 * trigram of `#word#` (weight 0.5) is hashed to a dimension and a sign (the "hashing
 * trick" with a signed hash, so collisions cancel on average instead of piling up);
 * word counts are damped with 1 + log(tf); the vector is L2-normalised. Deterministic:
 * the same text gives the same vector on every machine.
 */
export class LocalHashEmbedder implements EmbeddingProvider {
  readonly name = 'local';
  constructor(readonly dimensions: number) {}

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const counts = new Map<string, number>();
    for (const m of text.toLowerCase().normalize('NFKC').matchAll(WORD))
      counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
    const add = (feature: string, weight: number): void => {
      const h = fnv1a(feature, 0);
      const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
      v[h % this.dimensions] = (v[h % this.dimensions] ?? 0) + sign * weight;
    };
    for (const [word, tf] of counts) {
      const w = 1 + Math.log(tf);
      add(`w:${word}`, w);
      const padded = `#${word}#`;
      for (let i = 0; i + 3 <= padded.length; i++) add(`g:${padded.slice(i, i + 3)}`, 0.5 * w);
    }
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
    return v;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((t) => this.embedOne(t)));
  }
}

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
