import { z } from 'zod';

// The shapes of the memory routes, checked at the door; vector memory checks them again
// (and the embedding dimension, which only it knows).

const text = z
  .string()
  .max(32_768)
  .refine((s) => s.trim().length > 0, 'must not be empty');
const embedding = z.array(z.number().finite()).min(1).max(8192);
export const memorySessionId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');

/** `POST /api/memory/vectors` */
export const insertVectorsBody = z
  .object({
    items: z
      .array(
        z
          .object({
            content: text,
            embedding: embedding.optional(),
            sessionId: memorySessionId.optional(),
            role: z.enum(['user', 'assistant', 'system', 'tool']).optional(),
            metadata: z.record(z.string(), z.unknown()).optional(),
            tokenCount: z.number().int().min(0).max(10_000_000).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

/** `POST /api/memory/search` */
export const searchBody = z
  .object({
    query: text.optional(),
    embedding: embedding.optional(),
    topK: z.number().int().min(1).max(100).default(10),
    sessionId: memorySessionId.optional(),
  })
  .strict()
  .refine((b) => (b.query === undefined) !== (b.embedding === undefined), {
    message: 'give exactly one of query or embedding',
    path: ['query'],
  });

/** `GET /api/memory/zone?q=` */
export const zoneQuery = z.object({ q: text }).strict();
