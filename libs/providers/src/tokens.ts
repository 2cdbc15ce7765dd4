import { countTokens as countBpe } from 'gpt-tokenizer';
import { type ChatMessage } from './types.js';

/**
 * Tokens of a text or a conversation by OpenAI's `o200k_base` encoding (gpt-tokenizer),
 * with OpenAI's per-message overhead (3 tokens a message, 3 to prime the answer). For
 * other providers' models it is an estimate; it is used only when a provider reports no
 * usage of its own.
 */
export function countTokens(input: string | ChatMessage[]): number {
  if (typeof input === 'string') return countBpe(input);
  if (input.length === 0) return 0;
  return input.reduce((n, m) => n + 3 + countBpe(m.role) + countBpe(m.content), 3);
}
