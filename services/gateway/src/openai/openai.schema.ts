import { z } from 'zod';
import { UNSTORABLE_TEXT, storableText } from '../problem/pg-text.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });

/** One message of a conversation, as OpenAI's clients send it (text only: no tools, no images). */
const chatMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  name: z.string().optional(),
});

/**
 * Body of `POST /v1/chat/completions`: OpenAI's, for what Heady does (text conversations).
 * Other fields OpenAI defines are accepted and ignored, as OpenAI-compatible servers do;
 * `n` other than 1 and tool messages are refused.
 */
export const chatCompletionBody = z
  .object({
    model: z.string().min(1).max(200),
    messages: z.array(chatMessage).min(1).max(500),
    temperature: z.number().min(0).max(2).nullable().optional(),
    max_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    user: z.string().max(256).optional(),
    n: z.literal(1).nullable().optional(),
  })
  .catchall(z.unknown())
  .refine(storableText, UNSTORABLE_TEXT);
export type ChatCompletionBody = z.infer<typeof chatCompletionBody>;

/** `chat.completion`: the answer of a non-streamed chat completion. */
export const chatCompletion = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string() }),
      finish_reason: z.enum(['stop', 'length', 'content_filter']),
      logprobs: z.null(),
    }),
  ),
  usage: z.object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  }),
});

/** Body of `POST /v1/embeddings`. */
export const embeddingsBody = z
  .object({
    model: z.string().min(1).max(200),
    input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
    /** `base64`: each vector as little-endian float32 bytes (what OpenAI's clients ask for). */
    encoding_format: z.enum(['float', 'base64']).optional(),
    user: z.string().max(256).optional(),
  })
  .catchall(z.unknown())
  .refine(storableText, UNSTORABLE_TEXT);

/** What `POST /v1/embeddings` answers. */
export const embeddingList = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      object: z.literal('embedding'),
      index: z.number().int(),
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
});

/** What `GET /v1/models` answers: one model per service group. */
export const modelList = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.number().int(),
      owned_by: z.string(),
    }),
  ),
});
