import { z } from 'zod';

// The requests of the knowledge vault's RPCs (`knowledge.*`), one schema each. The gateway
// checks a REST body against the same fields at the door (without `orgId`, which it adds
// from the caller's API key); the vault checks the whole request again and decides what
// only it can: a document's size, type and emptiness, each refusal with a DROP receipt.

/** Where a vault document came from (`documents.source`). */
export const KNOWLEDGE_SOURCES = ['UPLOAD', 'NOTION', 'REPO', 'PIPELINE', 'REGISTRY'] as const;
export type KnowledgeSource = (typeof KNOWLEDGE_SOURCES)[number];

/** What a receipt records (`memory_receipts.operation`). */
export const RECEIPT_OPERATIONS = ['INGEST', 'EMBED', 'STORE', 'DROP'] as const;
export type ReceiptOperation = (typeof RECEIPT_OPERATIONS)[number];

/** Why a receipt says `stored=false` (or, for a DROP that removed a document, why it went). */
export const RECEIPT_REASONS = [
  'duplicate',
  'too_large',
  'empty',
  'unsupported_type',
  'source_deleted',
  'deleted',
  'embedding_provider_down',
  'batch_refused',
] as const;
export type ReceiptReason = (typeof RECEIPT_REASONS)[number];

/** Search modes of `GET /api/knowledge/search`. */
export const SEARCH_MODES = ['hybrid', 'lexical', 'vector'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** Most passages one search answers. */
export const MAX_SEARCH_K = 50;
/** Longest query, in characters. */
export const MAX_QUERY_CHARS = 1000;
/** Most documents in one upload. */
export const MAX_DOCUMENTS_PER_UPLOAD = 100;
/** Content types the vault splits into passages (a document naming another is refused). */
export const KNOWLEDGE_CONTENT_TYPES = ['text/plain', 'text/markdown'] as const;

const orgId = z.string().min(1).max(200);
const sourceId = z.string().min(1).max(1000);

/** One document to store. `content` may be empty here: the vault refuses it with a receipt. */
export const knowledgeDocument = z
  .object({
    sourceId,
    title: z.string().max(1000).optional(),
    content: z.string(),
    /** `text/plain` or `text/markdown` (default); anything else is refused with a receipt. */
    contentType: z.string().min(1).max(200).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** `POST /api/knowledge/documents` */
export const ingestDocumentsBody = z
  .object({ documents: z.array(knowledgeDocument).min(1).max(MAX_DOCUMENTS_PER_UPLOAD) })
  .strict();

/** `knowledge.documents.ingest`: documents of one source (UPLOAD from REST). */
export const ingestDocumentsRequest = ingestDocumentsBody
  .extend({ orgId, source: z.enum(KNOWLEDGE_SOURCES) })
  .strict();

/** The query of a search: trimmed, not empty, at most {@link MAX_QUERY_CHARS}. */
export const knowledgeQueryText = z
  .string()
  .max(MAX_QUERY_CHARS)
  .refine((s) => s.trim().length > 0, 'must not be empty');

const searchFields = {
  q: knowledgeQueryText,
  k: z.coerce.number().int().min(1).max(MAX_SEARCH_K).default(10),
  mode: z.enum(SEARCH_MODES).default('hybrid'),
  source: z.enum(KNOWLEDGE_SOURCES).optional(),
};

/** `GET /api/knowledge/search?q=&k=&mode=&source=` */
export const searchKnowledgeQuery = z.object(searchFields).strict();
/** `knowledge.search` (the gateway's and the pipeline's) */
export const searchKnowledgeRequest = z.object({ orgId, ...searchFields }).strict();

const receiptsFields = {
  source: z.enum(KNOWLEDGE_SOURCES).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  documentId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** The `nextCursor` of the page before. */
  cursor: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
};
/** `GET /api/knowledge/receipts?source=&since=&documentId=&limit=&cursor=` */
export const listReceiptsQuery = z.object(receiptsFields).strict();
/** `knowledge.receipts.list` */
export const listReceiptsRequest = z.object({ orgId, ...receiptsFields }).strict();

/** `knowledge.documents.delete` */
export const deleteDocumentRequest = z.object({ orgId, documentId: z.uuid() }).strict();

const commit = z.string().regex(/^[0-9a-f]{40}$/, 'a full git commit id');
/** A repository's name as its owner calls it (the cursor's key). */
export const repoName = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only');

/**
 * `POST /api/knowledge/repos/sync`: one batch of a repository's files at `commit` (source
 * REPO, source id = path, metadata = commit). `deletes` are paths gone since the cursor; the
 * batch with `final` sets the repository's cursor to `commit` once everything before it is
 * stored, so an interrupted ingest is done again from the old cursor.
 */
export const repoSyncBody = z
  .object({
    repo: repoName,
    commit,
    upserts: z
      .array(z.object({ path: sourceId, content: z.string() }).strict())
      .max(MAX_DOCUMENTS_PER_UPLOAD),
    deletes: z.array(sourceId).max(10_000).default([]),
    final: z.boolean().default(false),
  })
  .strict();
/** `knowledge.repos.sync` */
export const repoSyncRequest = repoSyncBody.extend({ orgId }).strict();
/** `GET /api/knowledge/repos/cursor?repo=` */
export const repoCursorQuery = z.object({ repo: repoName }).strict();
/** `knowledge.repos.cursor` */
export const repoCursorRequest = repoCursorQuery.extend({ orgId }).strict();

/** `knowledge.repos.sync`'s reply: each file's last receipt (upserts, then deletes), the cursor after. */
export interface RepoSyncReply {
  receipts: KnowledgeReceipt[];
  commit: string | null;
}

/** `knowledge.repos.cursor`'s reply: the last commit fully ingested, or null. */
export interface RepoCursorReply {
  repo: string;
  commit: string | null;
}

/** `PUT /api/knowledge/settings`: opt-ins of the organization (omitted: unchanged). */
export const knowledgeSettingsBody = z
  .object({
    /** Store each finalized run's result as a PIPELINE document (off by default). */
    pipelineResults: z.boolean().optional(),
  })
  .strict();
/** `knowledge.settings` (no field: read; a field: change it, then read) */
export const knowledgeSettingsRequest = knowledgeSettingsBody.extend({ orgId }).strict();

/** `knowledge.settings`'s reply. */
export interface KnowledgeSettingsReply {
  pipelineResults: boolean;
}

/** One `memory_receipts` row as the API shows it. */
export interface KnowledgeReceipt {
  id: string;
  operation: ReceiptOperation;
  source: KnowledgeSource;
  sourceId: string | null;
  documentId: string | null;
  stored: boolean;
  reason: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

/** `knowledge.documents.ingest`'s reply: the last receipt of each document, in order. */
export interface IngestDocumentsReply {
  receipts: KnowledgeReceipt[];
}

/** One passage found, with its attribution. */
export interface KnowledgeHit {
  documentId: string;
  source: KnowledgeSource;
  sourceId: string;
  title: string | null;
  /** The passage's text. */
  text: string;
  /** Its place in the document (0 = first passage). */
  ordinal: number;
  /** BM25 (lexical), cosine similarity (vector) or the fused RRF score (hybrid). */
  score: number;
  /** 1-based ranks in the lexical and vector lists (hybrid only; null: not in that list). */
  lexicalRank?: number | null;
  vectorRank?: number | null;
}

/** `knowledge.search`'s reply. */
export interface SearchKnowledgeReply {
  mode: SearchMode;
  results: KnowledgeHit[];
}

/** `knowledge.receipts.list`'s reply: a page, oldest first, and the cursor of the next. */
export interface ListReceiptsReply {
  receipts: KnowledgeReceipt[];
  nextCursor: string | null;
}

/** `knowledge.documents.delete`'s reply. */
export interface DeleteDocumentReply {
  documentId: string;
  receipt: KnowledgeReceipt;
}

/** The payload of `knowledge.document.stored` and `knowledge.document.dropped`. */
export interface KnowledgeDocumentEvent {
  orgId: string;
  documentId: string;
  source: KnowledgeSource;
  sourceId: string;
  contentHash: string | null;
  passages: number;
  reason?: string;
}
