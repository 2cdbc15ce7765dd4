import { CLASSIFICATIONS, RUN_STATUSES, STAGE_NAMES } from '@heady/contracts';
import { z } from 'zod';
import { UNSTORABLE_TEXT, storableText } from '../problem/pg-text.js';

/** One injected fault: the stage it hits, how, on how many attempts, for how long. */
export const faultSpec = z
  .object({
    stage: z.enum(STAGE_NAMES),
    mode: z.enum([
      'transient',
      'permanent',
      'crash',
      'delay',
      'compensation',
      'compensation-crash',
    ]),
    times: z.number().int().min(1).max(100).optional(),
    ms: z.number().int().min(0).max(600_000).optional(),
    cancellable: z.boolean().optional(),
  })
  .strict();

/** An action name: what a run does (`chat`, `analyze`, ...). */
const actionName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and _');

/** Body of `POST /api/runs` (the REST contract; keep it stable). */
export const startRunBody = z
  .object({
    action: actionName,
    input: z.record(z.string(), z.unknown()),
    sessionId: z.string().min(1).max(200).optional(),
    options: z
      .object({
        classification: z.enum(CLASSIFICATIONS).optional(),
        seed: z.union([z.number().int().safe(), z.string().regex(/^-?\d{1,18}$/)]).optional(),
        /** Run deadline: past it the run is compensated. */
        deadlineMs: z.number().int().min(1).max(86_400_000).optional(),
        /** Fault injection; accepted only when HEADY_FAULTS=1 (422 otherwise). */
        faults: z.array(faultSpec).max(20).optional(),
      })
      .catchall(z.unknown())
      .optional(),
  })
  .strict()
  // the run is stored in PostgreSQL (text and jsonb)
  .refine(storableText, UNSTORABLE_TEXT);
export type StartRunBody = z.infer<typeof startRunBody>;

export { RUN_STATUSES };

/** What `POST /api/runs` (and `POST /api/brain/chat`) answer: 202, the run accepted and durable. */
export const runAccepted = z.object({
  runId: z.uuid(),
  status: z.enum(RUN_STATUSES),
  links: z.object({ self: z.string(), events: z.string() }),
});

/** `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');

/** A run id is a UUID; anything else cannot name a run. */
export const runId = z.uuid();

/** What `POST /api/runs/{id}/cancel` answers: 202, the cancellation recorded. */
export const runCancelled = z.object({
  runId: z.uuid(),
  status: z.enum(['CANCELLING', 'CANCELLED']),
});

const isoTime = z.iso.datetime({ offset: true });

/** One stage execution of a run, with the state of its compensation. */
export const stageView = z.object({
  num: z.number().int(),
  name: z.string(),
  iteration: z.number().int(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATED']),
  attempts: z.number().int(),
  startedAt: isoTime,
  finishedAt: isoTime.nullable(),
  error: z.string().nullable(),
  compensation: z.object({
    /**
     * NONE: nothing to undo or not asked; PENDING: asked, not (yet) taken effect (see
     * `error` for the last failed attempt); DONE: undone.
     */
    state: z.enum(['NONE', 'PENDING', 'DONE']),
    attempts: z.number().int(),
    compensatedAt: isoTime.nullable(),
    error: z.string().nullable(),
  }),
});

/** What `GET /api/runs/{id}` answers. */
export const runView = z.object({
  runId: z.uuid(),
  action: z.string(),
  group: z.string(),
  status: z.enum(RUN_STATUSES),
  /** Why the run failed, was compensated or cancelled (null while it runs or when it succeeded). */
  error: z.string().nullable(),
  /** The run's own W3C trace id (32 hex), also in the `Heady-Trace-Id` header; null when it was started untraced. */
  traceId: z.string().nullable(),
  stages: z.array(stageView),
  result: z.record(z.string(), z.unknown()),
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
});
export type RunView = z.infer<typeof runView>;

/** The most runs one page of `GET /api/runs` holds. */
export const MAX_RUNS_PAGE = 100;

/** Query of `GET /api/runs`: filters and the page (newest first). */
export const listRunsQuery = z
  .object({
    status: z.enum(RUN_STATUSES).optional(),
    action: actionName.optional(),
    /** Runs created at or after this time. */
    since: isoTime.optional(),
    /** Runs created before this time. */
    until: isoTime.optional(),
    /** `nextCursor` of the previous page. */
    cursor: z
      .string()
      .max(200)
      .regex(/^[A-Za-z0-9_-]+$/, 'a cursor from a previous page')
      .optional(),
    limit: z.coerce.number().int().min(1).max(MAX_RUNS_PAGE).default(20),
  })
  .strict()
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: 'since must be before until',
    path: ['until'],
  });
export type ListRunsQuery = z.infer<typeof listRunsQuery>;

/** One run in a listing. */
export const runSummary = z.object({
  runId: z.uuid(),
  action: z.string(),
  group: z.string(),
  status: z.enum(RUN_STATUSES),
  error: z.string().nullable(),
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
  links: z.object({ self: z.string() }),
});
export type RunSummary = z.infer<typeof runSummary>;

/** What `GET /api/runs` answers: a page, newest first; `nextCursor` is null on the last. */
export const runList = z.object({
  items: z.array(runSummary),
  nextCursor: z.string().nullable(),
});
export type RunList = z.infer<typeof runList>;
