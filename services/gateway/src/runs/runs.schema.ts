import { z } from 'zod';

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
      })
      .catchall(z.unknown())
      .optional(),
  })
  .strict();
export type StartRunBody = z.infer<typeof startRunBody>;

/** `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');

/** A run id is a UUID; anything else cannot name a run. */
export const runId = z.uuid();
