import { ProviderError, ProviderErrorKind } from '../errors.js';
import { countTokens } from '../tokens.js';
import {
  type CallOptions,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type ChatStreamEvent,
  type ContextPassage,
  type EmbedRequest,
  type EmbedResult,
  type ModelProvider,
} from '../types.js';
import { LocalHashEmbedder } from './hash-embedder.js';
import { analyze, contentTerms, sentences } from './nlp.js';

/** The model name the local provider answers with. */
export const LOCAL_MODEL = 'heady-local-extractive';

/** The first line of every local answer, so no reader takes it for a model's writing. */
export const LOCAL_PREFACE =
  '[heady-local-extractive] Extractive answer: sentences quoted from the passages given, ' +
  'not written by a language model.';

/** Configuration of a {@link LocalProvider}. */
export interface LocalConfig {
  /** This instance's name; defaults to `local`. */
  name?: string;
  /** Dimensions of its embeddings; 384 if unset (vector-memory's default). */
  dimensions?: number;
  /** At most this many sentences quoted in an answer; 3 if unset. */
  maxQuotes?: number;
}

interface Quote {
  text: string;
  source: string;
  score: number;
  order: number;
}

/**
 * The offline default. It is **not a language model**: no weights are loaded and nothing
 * is generated. It does extractive work with wink-nlp and its bundled English model:
 * a chat answer quotes, with their sources, the sentences of the caller's `context`
 * passages that share the most (rarest) content words with the last user message; with
 * no context it reports a summary, keywords, entities and sentiment of that message.
 * Embeddings are the lexical hashing vectors of {@link LocalHashEmbedder}.
 */
export class LocalProvider implements ModelProvider {
  readonly name: string;
  readonly kind = 'local' as const;
  private readonly embedder: LocalHashEmbedder;

  constructor(private readonly config: LocalConfig = {}) {
    this.name = config.name ?? 'local';
    this.embedder = new LocalHashEmbedder(config.dimensions ?? 384);
  }

  countTokens(input: string | ChatMessage[]): number {
    return countTokens(input);
  }

  /** Summary, keywords, entities and sentiment of a text (see {@link analyze}). */
  analyze(text: string, opts?: { sentences?: number; keywords?: number }) {
    return analyze(text, opts);
  }

  chat(req: ChatRequest): Promise<ChatResult> {
    const aborted = this.abortedError(req);
    if (aborted) return Promise.reject(aborted);
    try {
      const text = this.answer(req);
      return Promise.resolve({
        text,
        model: LOCAL_MODEL,
        provider: this.name,
        usage: {
          promptTokens: countTokens(req.messages),
          completionTokens: countTokens(text),
          source: 'tokenizer',
        },
        finishReason: 'stop',
      });
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The same answer as {@link chat}, handed out word by word. */
  async *stream(req: ChatRequest): AsyncGenerator<ChatStreamEvent> {
    const result = await this.chat(req);
    for (const piece of result.text.match(/\S+\s*|\s+/g) ?? []) {
      const aborted = this.abortedError(req);
      if (aborted) throw aborted;
      yield { type: 'delta', text: piece };
    }
    yield { type: 'done', ...result };
  }

  embed(req: EmbedRequest): Promise<EmbedResult> {
    const aborted = this.abortedError(req);
    if (aborted) return Promise.reject(aborted);
    return Promise.resolve({
      vectors: req.texts.map((t) => this.embedder.embedOne(t)),
      model: `heady-local-hash-${this.embedder.dimensions}`,
      provider: this.name,
      usage: {
        promptTokens: req.texts.reduce((n, t) => n + countTokens(t), 0),
        completionTokens: 0,
        source: 'tokenizer',
      },
    });
  }

  private abortedError(opts: CallOptions): ProviderError | undefined {
    return opts.signal?.aborted
      ? new ProviderError(ProviderErrorKind.Aborted, this.name, `${this.name}: call aborted`)
      : undefined;
  }

  private answer(req: ChatRequest): string {
    const question = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    if (req.context?.length) return this.quote(question, req.context);
    const a = analyze(question);
    return [
      LOCAL_PREFACE,
      '',
      'No context passages were given, so there is nothing to quote. About your message:',
      `Summary: ${a.summary.map((s) => `"${s}"`).join(' ') || '(empty)'}`,
      `Keywords: ${a.keywords.join(', ') || '(none)'}`,
      `Entities: ${a.entities.map((e) => `${e.text} (${e.type})`).join(', ') || '(none)'}`,
      `Sentiment: ${a.sentiment.label} (${a.sentiment.score.toFixed(2)})`,
    ].join('\n');
  }

  /**
   * The context sentences sharing the most content words with the question, each word
   * weighted by its rarity among all context sentences (idf), quoted in passage order.
   */
  private quote(question: string, context: ContextPassage[]): string {
    const asked = new Set(contentTerms(question));
    const all = context.flatMap((p) => sentences(p.text).map((s) => ({ ...s, source: p.source })));
    const df = new Map<string, number>();
    for (const s of all) for (const t of new Set(s.terms)) df.set(t, (df.get(t) ?? 0) + 1);
    const quotes: Quote[] = all
      .map((s, order) => {
        const hits = new Set(s.terms.filter((t) => asked.has(t)));
        const idf = [...hits].reduce((n, t) => n + Math.log(1 + all.length / (df.get(t) ?? 1)), 0);
        return { text: s.text, source: s.source, order, score: idf };
      })
      .filter((q) => q.score > 0)
      .sort((a, b) => b.score - a.score || a.order - b.order)
      .slice(0, this.config.maxQuotes ?? 3)
      .sort((a, b) => a.order - b.order);
    if (quotes.length === 0)
      return [
        LOCAL_PREFACE,
        '',
        `None of the ${context.length} passages given (${context.map((p) => p.source).join(', ')}) ` +
          'shares a content word with the question, so there is nothing to quote.',
      ].join('\n');
    return [LOCAL_PREFACE, '', ...quotes.map((q) => `"${q.text}" (source: ${q.source})`)].join(
      '\n',
    );
  }
}
