import { STAGE_NAMES } from '@heady/config';
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

/** Body of `POST /api/runs` (the REST contract; keep it stable). */
export const startRunBody = z
  .object({
    action: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and _'),
    input: z.record(z.string(), z.unknown()),
    sessionId: z.string().min(1).max(200).optional(),
    options: z
      .object({
        classification: z.enum(['PUBLIC', 'INTERNAL', 'PROPRIETARY', 'RESTRICTED']).optional(),
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

/** What `POST /api/runs` (and `POST /api/brain/chat`) answer: 202, the run accepted and durable. */
export const runAccepted = z.object({
  runId: z.uuid(),
  status: z.string(),
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
