import { CallSignal, redact, retryAfterMs, sseData, withContext } from './call.js';
import { kindOfStatus, ProviderError, ProviderErrorKind } from './errors.js';
import { countTokens } from './tokens.js';
import {
  type CallOptions,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type ChatStreamEvent,
  type EmbedRequest,
  type EmbedResult,
  type FinishReason,
  type ModelProvider,
  type Usage,
} from './types.js';

/** Configuration of an {@link OpenAICompatibleProvider}. */
export interface OpenAICompatibleConfig {
  /** This instance's name; defaults to `openai-compatible`. */
  name?: string;
  /**
   * The API root including its version, as OpenAI's SDK takes it: `https://api.openai.com/v1`,
   * `http://127.0.0.1:11434/v1` (Ollama), `http://vllm:8000/v1`, a LiteLLM proxy's `/v1`, or
   * Azure's `https://<resource>.openai.azure.com/openai/v1`.
   */
  baseURL: string;
  /** Sent as `Authorization: Bearer <key>`, or in {@link apiKeyHeader}. */
  apiKey?: string;
  /** The header carrying the key as is, instead of `Authorization` (Azure: `api-key`). */
  apiKeyHeader?: string;
  /** The chat model (`gpt-4o-mini`, `llama3.1`, ...). */
  model: string;
  /** The embeddings model; {@link model} if unset. */
  embeddingModel?: string;
  /** Deadline of a call when the request names none; 60 s if unset. */
  timeoutMs?: number;
  /** Extra query parameters on every request (old Azure deployments: `api-version`). */
  query?: Record<string, string>;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /**
   * Ask for usage in the last chunk of a stream (`stream_options.include_usage`); on by
   * default, off for a server that rejects the option. Without it usage is counted here.
   */
  streamUsage?: boolean;
}

interface OpenAIChoice {
  message?: { content?: string | null };
  delta?: { content?: string | null };
  finish_reason?: string | null;
}
interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}
interface OpenAIChatBody {
  model?: string;
  choices?: OpenAIChoice[];
  usage?: OpenAIUsage | null;
}

function finishReason(raw: string | null | undefined): FinishReason {
  if (raw === 'stop' || raw === 'length' || raw === 'content_filter') return raw;
  return raw === 'tool_calls' || raw === 'function_call' || raw ? 'other' : 'stop';
}

/**
 * Any server speaking OpenAI's HTTP API: `POST {baseURL}/chat/completions` (plain and SSE)
 * and `POST {baseURL}/embeddings`. Plain `fetch`, no retries of its own: a 429 becomes a
 * `rate_limited` error carrying `retryAfterMs`, so the caller (a {@link ProviderChain})
 * chooses between waiting and another provider.
 */
export class OpenAICompatibleProvider implements ModelProvider {
  readonly name: string;
  readonly kind = 'openai-compatible' as const;
  private readonly base: string;

  constructor(private readonly config: OpenAICompatibleConfig) {
    this.name = config.name ?? 'openai-compatible';
    this.base = config.baseURL.replace(/\/+$/, '');
  }

  countTokens(input: string | ChatMessage[]): number {
    return countTokens(input);
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    const messages = withContext(req.messages, req.context);
    const call = this.call(req);
    try {
      const res = await this.post(
        '/chat/completions',
        this.chatBody(req, messages, false),
        call,
        req.taskId,
      );
      const body = (await res.json()) as OpenAIChatBody;
      const choice = body.choices?.[0];
      if (!choice) throw this.malformed('an answer without choices');
      const text = choice.message?.content ?? '';
      return {
        text,
        model: body.model ?? req.model ?? this.config.model,
        provider: this.name,
        usage: this.usage(body.usage, messages, text),
        finishReason: finishReason(choice.finish_reason),
      };
    } catch (e) {
      throw this.failure(call, e);
    } finally {
      call.dispose();
    }
  }

  async *stream(req: ChatRequest): AsyncGenerator<ChatStreamEvent> {
    const messages = withContext(req.messages, req.context);
    const call = this.call(req);
    try {
      const res = await this.post(
        '/chat/completions',
        this.chatBody(req, messages, true),
        call,
        req.taskId,
      );
      if (!res.body) throw this.malformed('a stream without a body');
      let text = '';
      let model = req.model ?? this.config.model;
      let finish: string | null | undefined;
      let usage: OpenAIUsage | null | undefined;
      let done = false;
      for await (const data of sseData(res.body)) {
        if (data === '[DONE]') {
          done = true;
          break;
        }
        let chunk: OpenAIChatBody;
        try {
          chunk = JSON.parse(data) as OpenAIChatBody;
        } catch (e) {
          throw this.malformed('a stream chunk that is not JSON', e);
        }
        if (chunk.model) model = chunk.model;
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) finish = choice.finish_reason;
        const delta = choice?.delta?.content;
        if (delta) {
          text += delta;
          yield { type: 'delta', text: delta };
        }
      }
      if (!done && !finish) throw this.malformed('a stream that ended before [DONE]');
      yield {
        type: 'done',
        text,
        model,
        provider: this.name,
        usage: this.usage(usage, messages, text),
        finishReason: finishReason(finish),
      };
    } catch (e) {
      throw this.failure(call, e);
    } finally {
      call.dispose();
    }
  }

  async embed(req: EmbedRequest): Promise<EmbedResult> {
    const model = req.model ?? this.config.embeddingModel ?? this.config.model;
    const call = this.call(req);
    try {
      const res = await this.post('/embeddings', { model, input: req.texts }, call, req.taskId);
      const body = (await res.json()) as {
        model?: string;
        data?: { index?: number; embedding?: unknown }[];
        usage?: { prompt_tokens?: number };
      };
      const data = [...(body.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      if (data.length !== req.texts.length)
        throw this.malformed(`${data.length} embeddings for ${req.texts.length} texts`);
      const vectors = data.map((d) => {
        const v = d.embedding;
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
          throw this.malformed('a non-numeric embedding');
        return Float32Array.from(v as number[]);
      });
      const promptTokens =
        body.usage?.prompt_tokens ?? req.texts.reduce((n, t) => n + countTokens(t), 0);
      return {
        vectors,
        model: body.model ?? model,
        provider: this.name,
        usage: {
          promptTokens,
          completionTokens: 0,
          source: body.usage?.prompt_tokens === undefined ? 'tokenizer' : 'provider',
        },
      };
    } catch (e) {
      throw this.failure(call, e);
    } finally {
      call.dispose();
    }
  }

  private call(opts: CallOptions): CallSignal {
    return new CallSignal(opts.signal, opts.timeoutMs ?? this.config.timeoutMs ?? 60_000);
  }

  private chatBody(req: ChatRequest, messages: ChatMessage[], stream: boolean): object {
    return {
      model: req.model ?? this.config.model,
      messages,
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.maxTokens === undefined ? {} : { max_tokens: req.maxTokens }),
      ...(req.user === undefined ? {} : { user: req.user }),
      stream,
      ...(stream && this.config.streamUsage !== false
        ? { stream_options: { include_usage: true } }
        : {}),
    };
  }

  /** POSTs JSON; a non-2xx answer is thrown as the {@link ProviderError} its status maps to. */
  private async post(
    path: string,
    body: object,
    call: CallSignal,
    taskId: string | undefined,
  ): Promise<Response> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(this.config.query ?? {})) url.searchParams.set(k, v);
    const { apiKey, apiKeyHeader } = this.config;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(apiKey
          ? apiKeyHeader
            ? { [apiKeyHeader]: apiKey }
            : { authorization: `Bearer ${apiKey}` }
          : {}),
        ...this.config.headers,
        ...(taskId === undefined ? {} : { 'x-heady-task-id': taskId }),
      },
      body: JSON.stringify(body),
      signal: call.signal,
    });
    if (res.ok) return res;
    const detail = redact((await res.text().catch(() => '')).slice(0, 500), [apiKey]);
    const kind = kindOfStatus(res.status);
    throw new ProviderError(kind, this.name, `${this.name}: provider answered HTTP ${res.status}`, {
      status: res.status,
      ...(kind === ProviderErrorKind.RateLimited
        ? { retryAfterMs: retryAfterMs(res.headers) }
        : {}),
      cause: new Error(`POST ${url.origin}${url.pathname} answered ${res.status}: ${detail}`),
    });
  }

  private malformed(what: string, cause?: unknown): ProviderError {
    return new ProviderError(
      ProviderErrorKind.Unavailable,
      this.name,
      `${this.name}: provider sent ${what}`,
      cause === undefined ? {} : { cause },
    );
  }

  private failure(call: CallSignal, e: unknown): ProviderError {
    return call.failure(
      this.name,
      e,
      () =>
        new ProviderError(
          ProviderErrorKind.Unavailable,
          this.name,
          `${this.name}: provider unreachable`,
          {
            cause: e,
          },
        ),
    );
  }

  private usage(raw: OpenAIUsage | null | undefined, messages: ChatMessage[], text: string): Usage {
    if (raw?.prompt_tokens !== undefined && raw.completion_tokens !== undefined)
      return {
        promptTokens: raw.prompt_tokens,
        completionTokens: raw.completion_tokens,
        source: 'provider',
      };
    return {
      promptTokens: countTokens(messages),
      completionTokens: countTokens(text),
      source: 'tokenizer',
    };
  }
}
