import Anthropic, { APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { CallSignal, redact, retryAfterMs, withContext } from './call.js';
import { kindOfStatus, ProviderError, ProviderErrorKind } from './errors.js';
import { countTokens } from './tokens.js';
import {
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type ChatStreamEvent,
  type EmbedResult,
  type FinishReason,
  type ModelProvider,
  type Usage,
} from './types.js';

/** Configuration of an {@link AnthropicProvider}. */
export interface AnthropicConfig {
  /** This instance's name; defaults to `anthropic`. */
  name?: string;
  apiKey: string;
  /** `claude-sonnet-4-5`, ... */
  model: string;
  /** Anthropic's API root (without `/v1`); a fake or a proxy in tests. */
  baseURL?: string;
  /** Deadline of a call when the request names none; 60 s if unset. */
  timeoutMs?: number;
  /** Anthropic requires `max_tokens`; used when the request names none. 1024 if unset. */
  defaultMaxTokens?: number;
}

function finishReason(raw: string | null | undefined): FinishReason {
  if (raw === 'end_turn' || raw === 'stop_sequence' || raw == null) return 'stop';
  if (raw === 'max_tokens') return 'length';
  if (raw === 'refusal') return 'content_filter';
  return 'other';
}

/**
 * Anthropic's Messages API (`POST /v1/messages`) through the official SDK, with the SDK's
 * own retries off: a 429 becomes a `rate_limited` error carrying `retryAfterMs`, for the
 * caller to decide. System messages (and context passages) go into Anthropic's `system`.
 * No embeddings: Anthropic has no embeddings API.
 */
export class AnthropicProvider implements ModelProvider {
  readonly name: string;
  readonly kind = 'anthropic' as const;
  private readonly client: Anthropic;

  constructor(private readonly config: AnthropicConfig) {
    this.name = config.name ?? 'anthropic';
    this.client = new Anthropic({
      apiKey: config.apiKey,
      maxRetries: 0,
      // our own deadline (CallSignal) fires first; this is only a backstop
      timeout: (config.timeoutMs ?? 60_000) + 5_000,
      ...(config.baseURL ? { baseURL: config.baseURL } : {}),
    });
  }

  countTokens(input: string | ChatMessage[]): number {
    return countTokens(input);
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    const call = this.call(req);
    try {
      const msg = await this.client.messages.create(
        { ...this.params(req), stream: false },
        this.options(req, call),
      );
      const text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      return {
        text,
        model: msg.model,
        provider: this.name,
        usage: this.usage(msg.usage.input_tokens, msg.usage.output_tokens, req, text),
        finishReason: finishReason(msg.stop_reason),
      };
    } catch (e) {
      throw this.failure(call, e);
    } finally {
      call.dispose();
    }
  }

  async *stream(req: ChatRequest): AsyncGenerator<ChatStreamEvent> {
    const call = this.call(req);
    try {
      const events = await this.client.messages.create(
        { ...this.params(req), stream: true },
        this.options(req, call),
      );
      let text = '';
      let model = req.model ?? this.config.model;
      let input: number | undefined;
      let output: number | undefined;
      let stop: string | null | undefined;
      for await (const ev of events) {
        if (ev.type === 'message_start') {
          model = ev.message.model;
          input = ev.message.usage.input_tokens;
        } else if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
          if (ev.delta.text) {
            text += ev.delta.text;
            yield { type: 'delta', text: ev.delta.text };
          }
        } else if (ev.type === 'message_delta') {
          stop = ev.delta.stop_reason;
          output = ev.usage.output_tokens;
          if (ev.usage.input_tokens != null) input = ev.usage.input_tokens;
        }
      }
      yield {
        type: 'done',
        text,
        model,
        provider: this.name,
        usage: this.usage(input, output, req, text),
        finishReason: finishReason(stop),
      };
    } catch (e) {
      throw this.failure(call, e);
    } finally {
      call.dispose();
    }
  }

  /** Always throws `unsupported`: Anthropic has no embeddings API. */
  embed(): Promise<EmbedResult> {
    return Promise.reject(
      new ProviderError(
        ProviderErrorKind.Unsupported,
        this.name,
        `${this.name}: Anthropic has no embeddings API; use an openai-compatible or the local provider`,
      ),
    );
  }

  private call(req: ChatRequest): CallSignal {
    return new CallSignal(req.signal, req.timeoutMs ?? this.config.timeoutMs ?? 60_000);
  }

  private params(req: ChatRequest) {
    const all = withContext(req.messages, req.context);
    const system = all
      .filter((m) => m.role === 'system')
      .map((m) => m.content)
      .join('\n\n');
    return {
      model: req.model ?? this.config.model,
      max_tokens: req.maxTokens ?? this.config.defaultMaxTokens ?? 1024,
      messages: all
        .filter((m) => m.role !== 'system')
        .map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content })),
      ...(system ? { system } : {}),
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.user === undefined ? {} : { metadata: { user_id: req.user } }),
    };
  }

  private options(req: ChatRequest, call: CallSignal) {
    return {
      signal: call.signal,
      ...(req.taskId === undefined ? {} : { headers: { 'x-heady-task-id': req.taskId } }),
    };
  }

  private failure(call: CallSignal, e: unknown): ProviderError {
    return call.failure(this.name, e, () => {
      if (e instanceof APIConnectionTimeoutError)
        return new ProviderError(ProviderErrorKind.Timeout, this.name, `${this.name}: timed out`, {
          cause: e,
        });
      // the SDK types an error's status and headers loosely (generic parameters)
      const status = e instanceof APIError ? (e.status as number | undefined) : undefined;
      const headers = e instanceof APIError ? (e.headers as Headers | undefined) : undefined;
      if (e instanceof APIError && status !== undefined) {
        const kind = kindOfStatus(status);
        return new ProviderError(
          kind,
          this.name,
          `${this.name}: provider answered HTTP ${status}`,
          {
            status,
            ...(kind === ProviderErrorKind.RateLimited && headers
              ? { retryAfterMs: retryAfterMs(headers) }
              : {}),
            cause: new Error(redact(e.message, [this.config.apiKey])),
          },
        );
      }
      return new ProviderError(
        ProviderErrorKind.Unavailable,
        this.name,
        `${this.name}: provider unreachable`,
        { cause: e },
      );
    });
  }

  private usage(
    input: number | undefined,
    output: number | undefined,
    req: ChatRequest,
    text: string,
  ): Usage {
    if (input !== undefined && output !== undefined)
      return { promptTokens: input, completionTokens: output, source: 'provider' };
    return {
      promptTokens: countTokens(withContext(req.messages, req.context)),
      completionTokens: countTokens(text),
      source: 'tokenizer',
    };
  }
}
