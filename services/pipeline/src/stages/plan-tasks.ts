import { type TaskKind } from '@heady/contracts';
import { z } from 'zod';

/** Most tasks one run may plan. */
export const MAX_TASKS_PER_RUN = 50;

const message = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().min(1),
});
const passage = z.object({ source: z.string().min(1), text: z.string().min(1) });

/** One task a client may list in `input.tasks`. */
const taskSpec = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
      .optional(),
    kind: z.enum(['chat', 'embed']).default('chat'),
    message: z.string().min(1).optional(),
    messages: z.array(message).min(1).optional(),
    texts: z.array(z.string().min(1)).min(1).max(2048).optional(),
  })
  .refine((t) => (t.kind === 'embed' ? !!t.texts : !!(t.message || t.messages)), {
    message: 'a chat task needs `message` or `messages`; an embed task needs `texts`',
  });

/** The parts of a run's input that ask for model work (anything else is left to other stages). */
const modelInput = z.object({
  message: z.string().min(1).optional(),
  prompt: z.string().min(1).optional(),
  messages: z.array(message).min(1).optional(),
  texts: z.array(z.string().min(1)).min(1).max(2048).optional(),
  tasks: z.array(taskSpec).min(1).max(MAX_TASKS_PER_RUN).optional(),
  context: z.array(passage).max(200).optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
  /** `false`: answer without retrieving context from the organization's memory. */
  memory: z.boolean().optional(),
});

/** A task of the plan: what execute publishes on `work.<group>`. */
export interface PlannedTask {
  id: string;
  kind: TaskKind;
  group: string;
  input: Record<string, unknown>;
  maxTokens?: number;
}

/** A passage handed to chat tasks: the client's own `context`, then what ingest retrieved. */
export interface PlanPassage {
  source: string;
  text: string;
}

function chatInput(
  messages: z.infer<typeof message>[],
  m: z.infer<typeof modelInput>,
  live: boolean,
  retrieved: readonly PlanPassage[],
): Record<string, unknown> {
  const context = [...(m.context ?? []), ...retrieved];
  return {
    messages,
    ...(live ? { live: true } : {}),
    ...(context.length ? { context } : {}),
    ...(m.temperature === undefined ? {} : { temperature: m.temperature }),
  };
}

/**
 * The question a run asks, for retrieving its context: the `message` or `prompt`, else the
 * last user message of `messages`; none for task lists, embeddings, inputs that opt out with
 * `memory: false`, or inputs that do not parse (plan reports those).
 */
export function questionOf(input: unknown): string | undefined {
  const r = modelInput.safeParse(input ?? {});
  if (!r.success || r.data.memory === false || r.data.tasks) return undefined;
  const m = r.data;
  const text = m.message ?? m.prompt ?? m.messages?.findLast((x) => x.role === 'user')?.content;
  const q = text?.trim();
  return q ? q : undefined;
}

/**
 * The tasks a run's input asks for, in order: `input.tasks` (each a chat or an embed), else
 * one chat task for `messages`, `message` or `prompt`, else one embed task for `texts`, else
 * none (a run with nothing for a model to do, such as a bookkeeping action). With `live`,
 * chat tasks send their text as it is written (never for a RESTRICTED run). `context`
 * passages (the client's, then the `retrieved` ones), `temperature` and `maxTokens` apply to
 * every chat task. Returns the reason when
 * the input asks for model work in a shape that cannot be run.
 */
export function planTasks(
  input: unknown,
  group: string,
  opts: { live?: boolean; retrieved?: readonly PlanPassage[] } = {},
): PlannedTask[] | { error: string } {
  const live = opts.live ?? false;
  const retrieved = opts.retrieved ?? [];
  const r = modelInput.safeParse(input ?? {});
  if (!r.success) return { error: `input: ${z.prettifyError(r.error).replace(/\n/g, '; ')}` };
  const m = r.data;
  const budget = m.maxTokens === undefined ? {} : { maxTokens: m.maxTokens };
  if (m.tasks) {
    const ids = new Set<string>();
    const tasks: PlannedTask[] = [];
    for (const [i, t] of m.tasks.entries()) {
      const id = t.id ?? `task-${i + 1}`;
      if (ids.has(id)) return { error: `input.tasks: the id "${id}" is used twice` };
      ids.add(id);
      if (t.kind === 'embed') {
        tasks.push({ id, kind: 'embed', group, input: { texts: t.texts } });
      } else {
        const msgs = t.messages ?? [{ role: 'user' as const, content: t.message ?? '' }];
        tasks.push({
          id,
          kind: 'chat',
          group,
          input: chatInput(msgs, m, live, retrieved),
          ...budget,
        });
      }
    }
    return tasks;
  }
  const text = m.message ?? m.prompt;
  if (m.messages || text) {
    const msgs = m.messages ?? [{ role: 'user' as const, content: text ?? '' }];
    return [
      { id: 'task-1', kind: 'chat', group, input: chatInput(msgs, m, live, retrieved), ...budget },
    ];
  }
  if (m.texts) return [{ id: 'task-1', kind: 'embed', group, input: { texts: m.texts } }];
  return [];
}
