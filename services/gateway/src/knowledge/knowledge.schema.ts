import {
  KNOWLEDGE_SOURCES,
  RECEIPT_OPERATIONS,
  SEARCH_MODES,
  ingestDocumentsBody,
  knowledgeSettingsBody,
  listReceiptsQuery,
  repoCursorQuery,
  repoSyncBody,
  searchKnowledgeQuery,
} from '@heady/contracts';
import { z } from 'zod';

// The shapes of the knowledge routes, checked at the door: the bodies and queries are the
// vault's RPC requests without `orgId` (libs/contracts); the vault checks them again, and
// what only it decides (a document's size, type, emptiness), each refusal with a receipt.

export {
  ingestDocumentsBody,
  knowledgeSettingsBody,
  listReceiptsQuery,
  repoCursorQuery,
  repoSyncBody,
  searchKnowledgeQuery,
};

/** `DELETE /api/knowledge/documents/{id}` */
export const documentId = z.uuid();

/** One receipt: what the vault did with a document and why. */
export const receipt = z.object({
  id: z.string(),
  operation: z.enum(RECEIPT_OPERATIONS),
  source: z.enum(KNOWLEDGE_SOURCES),
  sourceId: z.string().nullable(),
  documentId: z.string().nullable(),
  /** False with a reason: duplicate, too_large, empty, unsupported_type, source_deleted, ... */
  stored: z.boolean(),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});

/** `POST /api/knowledge/documents`: the last receipt of each document, in order. */
export const ingestReply = z.object({ receipts: z.array(receipt) });

/** `DELETE /api/knowledge/documents/{id}` */
export const deleteReply = z.object({ documentId: z.string(), receipt });

/** `GET /api/knowledge/search` */
export const searchReply = z.object({
  mode: z.enum(SEARCH_MODES),
  results: z.array(
    z.object({
      documentId: z.string(),
      source: z.enum(KNOWLEDGE_SOURCES),
      sourceId: z.string(),
      title: z.string().nullable(),
      /** The passage's text. */
      text: z.string(),
      ordinal: z.number().int(),
      /** BM25 (lexical), cosine (vector) or the RRF score (hybrid). */
      score: z.number(),
      /** Hybrid only: 1-based ranks in the lexical and vector lists, null when absent. */
      lexicalRank: z.number().int().nullable().optional(),
      vectorRank: z.number().int().nullable().optional(),
    }),
  ),
});

/** `GET /api/knowledge/receipts`: a page, oldest first. */
export const receiptsReply = z.object({
  receipts: z.array(receipt),
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: z.string().nullable(),
});

/** `POST /api/knowledge/repos/sync`: each file's last receipt, and the repository's cursor after. */
export const repoSyncReply = z.object({
  receipts: z.array(receipt),
  commit: z.string().nullable(),
});

/** `GET /api/knowledge/repos/cursor`: the last commit fully ingested, or null. */
export const repoCursorReply = z.object({ repo: z.string(), commit: z.string().nullable() });

/** `GET|PUT /api/knowledge/settings`: the organization's vault opt-ins. */
export const settingsReply = z.object({
  /** Each finalized run's result is stored as a PIPELINE document. */
  pipelineResults: z.boolean(),
});
