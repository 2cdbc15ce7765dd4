/** Who wrote a message, as in OpenAI's chat API. */
export type ChatRole = 'system' | 'user' | 'assistant';

/** One message of a conversation, in OpenAI's shape. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/**
 * A passage the caller hands to the model as material to answer from: a memory hit, a
 * knowledge document. The `local` provider answers only from these; the others get them
 * as a system message before the conversation.
 */
export interface ContextPassage {
  /** Where the text comes from (a document title, a memory id), quoted in attributions. */
  source: string;
  text: string;
}

/** What every call to a provider accepts for cancellation and deadlines. */
export interface CallOptions {
  /** Aborts the call; the HTTP request is aborted with it. */
  signal?: AbortSignal;
  /** Deadline of the whole call (the whole stream too) in ms; the provider's default if unset. */
  timeoutMs?: number;
  /** Sent as the `X-Heady-Task-Id` header, so a provider log (or a fake) can tell runs apart. */
  taskId?: string;
}

/** A chat request, the same for every provider. */
export interface ChatRequest extends CallOptions {
  messages: ChatMessage[];
  /** Overrides the provider's configured model. */
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** The end user, forwarded as OpenAI's `user` / Anthropic's `metadata.user_id`. */
  user?: string;
  context?: ContextPassage[];
}

/** Tokens a call used. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** `provider` when the provider reported the counts, `tokenizer` when we counted them. */
  source: 'provider' | 'tokenizer';
}

/**
 * Why the model stopped: `stop` (it finished), `length` (maxTokens reached),
 * `content_filter`, or `other` (anything else the provider said).
 */
export type FinishReason = 'stop' | 'length' | 'content_filter' | 'other';

/** The answer of a chat call. */
export interface ChatResult {
  text: string;
  /** The model that answered, as the provider named it. */
  model: string;
  /** The name of the provider instance that answered (its configured `name`). */
  provider: string;
  usage: Usage;
  finishReason: FinishReason;
}

/** One event of a streamed chat: text deltas, then exactly one `done`. */
export type ChatStreamEvent = { type: 'delta'; text: string } | ({ type: 'done' } & ChatResult);

/** An embeddings request. */
export interface EmbedRequest extends CallOptions {
  texts: string[];
  /** Overrides the provider's configured embedding model. */
  model?: string;
}

/** Vectors, one per input text and in its order. */
export interface EmbedResult {
  vectors: Float32Array[];
  model: string;
  provider: string;
  /** Tokens of the input; `completionTokens` is 0. */
  usage: Usage;
}

/** The kinds of provider this library implements. */
export type ProviderKind = 'openai-compatible' | 'anthropic' | 'local';

/** One model provider: chat, streamed chat, embeddings and token counting. */
export interface ModelProvider {
  /** This instance's name (e.g. `openai`, `ollama-gpu1`); unique within a chain. */
  readonly name: string;
  readonly kind: ProviderKind;
  /** One answer, after the model has finished. */
  chat(req: ChatRequest): Promise<ChatResult>;
  /** Text deltas as the model writes them, then one `done` event with usage and finish reason. */
  stream(req: ChatRequest): AsyncIterable<ChatStreamEvent>;
  /** One vector per text; throws `ProviderError` of kind `unsupported` where there are none. */
  embed(req: EmbedRequest): Promise<EmbedResult>;
  /** An estimate of the tokens of a text or a conversation (a tokenizer's count, not the provider's). */
  countTokens(input: string | ChatMessage[]): number;
}
