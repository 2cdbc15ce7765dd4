import { z } from 'zod';

// The requests of vector memory's RPCs (`memory.*`), one schema each. The gateway checks a
// REST body against the same fields at the door (without `orgId`, which it adds from the
// caller's API key); vector memory checks the whole request again, and the embedding
// dimension, which only it knows.

const MAX_CONTENT = 32_768;

const text = z
  .string()
  .max(MAX_CONTENT)
  .refine((s) => s.trim().length > 0, 'must not be empty');
const embedding = z.array(z.number().finite()).min(1).max(8192);
const orgId = z.string().min(1).max(200);

/** A conversation session's id, as clients name it. */
export const memorySessionId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');

/** Who said a stored text; `user` when not given. */
export const MEMORY_ROLES = ['user', 'assistant', 'system', 'tool'] as const;

/** The texts to store (`POST /api/memory/vectors`). */
export const insertVectorsBody = z
  .object({
    items: z
      .array(
        z
          .object({
            content: text,
            embedding: embedding.optional(),
            sessionId: memorySessionId.optional(),
            role: z.enum(MEMORY_ROLES).optional(),
            metadata: z.record(z.string(), z.unknown()).optional(),
            tokenCount: z.number().int().min(0).max(10_000_000).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

const searchFields = {
  query: text.optional(),
  embedding: embedding.optional(),
  topK: z.number().int().min(1).max(100).default(10),
  sessionId: memorySessionId.optional(),
};
const oneOfQueryOrEmbedding = (b: {
  query?: string | undefined;
  embedding?: number[] | undefined;
}): boolean => (b.query === undefined) !== (b.embedding === undefined);
const ONE_OF = { message: 'give exactly one of query or embedding', path: ['query'] };

/** A similarity search (`POST /api/memory/search`): exactly one of query or embedding. */
export const searchMemoryBody = z
  .object(searchFields)
  .strict()
  .refine(oneOfQueryOrEmbedding, ONE_OF);

/** `memory.vectors.insert` */
export const insertVectorsRequest = insertVectorsBody.extend({ orgId }).strict();
/** `memory.search` */
export const searchMemoryRequest = z
  .object({ orgId, ...searchFields })
  .strict()
  .refine(oneOfQueryOrEmbedding, ONE_OF);
/** `memory.zone` */
export const memoryZoneRequest = z.object({ orgId, query: text }).strict();
/** `memory.stats` */
export const memoryStatsRequest = z.object({ orgId }).strict();
/** `memory.sessions.delete` */
export const deleteMemorySessionRequest = z.object({ orgId, sessionId: memorySessionId }).strict();

/** The query text of `GET /api/memory/zone?q=`. */
export const memoryQueryText = text;

/** One hit of a similarity search. */
export interface SearchHit {
  id: string;
  score: number;
  content: string;
  role: string;
  sessionId: string | null;
  ts: number;
  metadata: Record<string, unknown> | null;
}

/** `memory.search`'s reply: the hits, best first, and whether they are the exact answer. */
export interface SearchMemoryReply {
  results: SearchHit[];
  exact: boolean;
}

/** `memory.zone`'s reply: the octant and the coordinates on the three axes, with the fit's facts. */
export interface ZoneReply {
  zone: number;
  coordinates: [number, number, number];
  basis: {
    explained: [number, number, number];
    sampleSize: number;
    fittedAtCount: number;
    fittedAt: string;
  };
}

/** `memory.stats`'s reply. */
export type MemoryStatsReply = Record<string, unknown>;

/** `memory.sessions.delete`'s reply. */
export interface DeleteSessionReply {
  deleted: number;
}
