import {
  insertVectorsBody,
  memoryQueryText,
  memorySessionId,
  searchMemoryBody,
} from '@heady/contracts';
import { z } from 'zod';

// The shapes of the memory routes, checked at the door: the bodies are vector memory's RPC
// requests without `orgId` (libs/contracts); vector memory checks them again, with the
// embedding dimension, which only it knows.

export { memorySessionId };

/** `POST /api/memory/vectors` */
export { insertVectorsBody };

/** `POST /api/memory/search` */
export const searchBody = searchMemoryBody;

/** `GET /api/memory/zone?q=` */
export const zoneQuery = z.object({ q: memoryQueryText }).strict();

// What the memory routes answer: vector memory's replies, checked against these at the door
// (so the OpenAPI document and the answers cannot drift apart).

/** `POST /api/memory/vectors`: the ids of the stored vectors, in the order given. */
export const insertVectorsReply = z.object({ ids: z.array(z.string()) });

/** `POST /api/memory/search`: the nearest vectors, best first. */
export const searchReply = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      /** Cosine similarity. */
      score: z.number(),
      content: z.string(),
      role: z.string(),
      sessionId: z.string().nullable(),
      /** When it was stored (ms since the epoch). */
      ts: z.number(),
      metadata: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
  /** True when the answer is DuckDB's exact one (a small session), false: the HNSW index's. */
  exact: z.boolean(),
});

/** `GET /api/memory/zone`: the octant and the fit it was read from. */
export const zoneReply = z.object({
  /** 0–7: bit 0 set when x ≥ 0, bit 1 when y ≥ 0, bit 2 when z ≥ 0. */
  zone: z.number().int().min(0).max(7),
  coordinates: z.tuple([z.number(), z.number(), z.number()]),
  basis: z.object({
    explained: z.tuple([z.number(), z.number(), z.number()]),
    sampleSize: z.number().int(),
    fittedAtCount: z.number().int(),
    fittedAt: z.string(),
  }),
});

/** `GET /api/memory/stats` */
export const statsReply = z.object({
  orgId: z.string(),
  totalVectors: z.number().int(),
  sessions: z.number().int(),
  oldest: z.string().nullable(),
  newest: z.string().nullable(),
  dimensions: z.number().int(),
  provider: z.string(),
  index: z.object({
    size: z.number().int(),
    lastRebuild: z.string().nullable(),
    lastRebuildReason: z.string().nullable(),
    lastSave: z.string().nullable(),
    organizationSize: z.number().int(),
    inStep: z.boolean(),
    recallProbe: z.object({
      recallAt10: z.number().nullable(),
      queries: z.number().int(),
      at: z.string().nullable(),
    }),
  }),
});

/** `DELETE /api/memory/sessions/{id}` */
export const deleteSessionReply = z.object({ deleted: z.number().int() });
