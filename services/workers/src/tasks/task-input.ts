import { type TaskKind } from '@heady/contracts';
import { z } from 'zod';

const message = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

/** `chat`: a conversation to answer, and passages the answer may quote. */
export const ChatInput = z.object({
  messages: z.array(message).min(1),
  context: z.array(z.object({ source: z.string(), text: z.string() })).optional(),
  temperature: z.number().min(0).max(2).optional(),
  user: z.string().optional(),
  /** Send the answer's text deltas on `live.<runId>.token` as the model writes them. */
  live: z.boolean().optional(),
});

/** `embed`: texts to turn into vectors. */
export const EmbedInput = z.object({ texts: z.array(z.string()).min(1).max(2048) });

export type TaskInput =
  | { kind: 'chat'; input: z.infer<typeof ChatInput> }
  | { kind: 'embed'; input: z.infer<typeof EmbedInput> };

/** A task's input for its kind, or the reason it is not one. */
export function parseTaskInput(kind: TaskKind, input: unknown): TaskInput | { error: string } {
  const schema = kind === 'chat' ? ChatInput : EmbedInput;
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    return { error: `${kind} input: ${z.prettifyError(r.error).replace(/\n/g, '; ')}` };
  }
  return { kind, input: r.data } as TaskInput;
}
