import { type KnowledgeVaultConfig } from '@heady/config';
import {
  DocumentNotFoundError,
  ErrorCode,
  HeadyError,
  KNOWLEDGE_CONTENT_TYPES,
  type KnowledgeReceipt,
  type KnowledgeSource,
  type ReceiptReason,
} from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { chunkDocument } from '../chunking/chunker.js';
import {
  EMBEDDER,
  EmbeddingUnavailableError,
  type PassageEmbedder,
} from '../embeddings/embedder.js';
import { KnowledgeEventsRepository } from '../events/knowledge-events.repository.js';
import { type ReceiptInit, ReceiptsRepository } from '../receipts/receipts.repository.js';
import { AnnIndex } from '../search/ann-index.js';
import { DocumentsRepository } from './documents.repository.js';

/** A document offered to the vault, from any source. */
export interface IncomingDocument {
  sourceId: string;
  title?: string | undefined;
  content: string;
  contentType?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** SHA-256 (hex) of a document's content: what "unchanged" means. */
export function contentHashOf(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** Receipts without their database positions. */
function bare(r: KnowledgeReceipt & { us?: string }): KnowledgeReceipt {
  const { us: _us, ...rest } = r;
  return rest;
}

/**
 * Ingest: checks each document (empty, too large, a type the vault cannot split), then for
 * each in order writes an INGEST receipt, skips an unchanged one (same content hash: a
 * STORE receipt `stored=false, duplicate`, nothing embedded), splits the rest into
 * passages, embeds them (an EMBED receipt `stored=false` when the provider is down) and
 * replaces the stored passages in one transaction with the EMBED and STORE receipts. The
 * ANN index and the `knowledge.document.stored` event follow the commit.
 */
@Injectable()
export class IngestService {
  constructor(
    @Inject(CONFIG) private readonly config: KnowledgeVaultConfig,
    @Inject(DocumentsRepository) private readonly documents: DocumentsRepository,
    @Inject(ReceiptsRepository) private readonly receipts: ReceiptsRepository,
    @Inject(EMBEDDER) private readonly embedder: PassageEmbedder,
    @Inject(AnnIndex) private readonly index: AnnIndex,
    @Inject(KnowledgeEventsRepository) private readonly events: KnowledgeEventsRepository,
  ) {}

  /** Why the vault refuses a document before doing anything with it, or null. */
  refusal(doc: IncomingDocument): ReceiptReason | null {
    if (!doc.content.trim()) return 'empty';
    if (Buffer.byteLength(doc.content, 'utf8') > this.config.vault.maxDocumentBytes)
      return 'too_large';
    const type = (doc.contentType ?? 'text/markdown').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!(KNOWLEDGE_CONTENT_TYPES as readonly string[]).includes(type)) return 'unsupported_type';
    return null;
  }

  /**
   * Stores a batch of one source, all or nothing at the door: when any document is refused,
   * every document gets a DROP receipt (its own reason, or `batch_refused`) and the batch
   * fails (413 when one is too large, else 422) with those receipts; nothing is stored.
   */
  async ingest(
    orgId: string,
    source: KnowledgeSource,
    docs: IncomingDocument[],
  ): Promise<{ receipts: KnowledgeReceipt[] }> {
    const refused = docs.map((d) => this.refusal(d));
    if (refused.some((r) => r !== null)) {
      const written = await this.receipts.write(
        docs.map((d, i) => ({
          orgId,
          operation: 'DROP',
          source,
          sourceId: d.sourceId,
          documentId: null,
          stored: false,
          reason: refused[i] ?? 'batch_refused',
          details: {
            bytes: Buffer.byteLength(d.content, 'utf8'),
            ...(refused[i] === 'too_large' ? { limit: this.config.vault.maxDocumentBytes } : {}),
            ...(d.contentType ? { contentType: d.contentType } : {}),
          },
        })),
      );
      const errors = refused.flatMap((r, i) =>
        r ? [{ path: `documents.${i}.content`, message: r }] : [],
      );
      throw new HeadyError(
        refused.includes('too_large') ? ErrorCode.PayloadTooLarge : ErrorCode.ValidationFailed,
        `refused ${errors.length} of ${docs.length} documents (${errors
          .map((e) => `${e.path}: ${e.message}`)
          .join('; ')}); nothing was stored`,
        { errors, receipts: written.map(bare) },
      );
    }
    const out: KnowledgeReceipt[] = [];
    for (const d of docs) out.push(await this.ingestOne(orgId, source, d));
    return { receipts: out };
  }

  /**
   * Stores documents one by one, a refused one getting its DROP receipt alone (a source
   * the vault pulls from, where one bad file must not hold back the rest); the last receipt
   * of each, in order.
   */
  async ingestEach(
    orgId: string,
    source: KnowledgeSource,
    docs: IncomingDocument[],
  ): Promise<KnowledgeReceipt[]> {
    const out: KnowledgeReceipt[] = [];
    for (const d of docs) {
      const reason = this.refusal(d);
      if (!reason) {
        out.push(await this.ingestOne(orgId, source, d));
        continue;
      }
      const [r] = await this.receipts.write([
        {
          orgId,
          operation: 'DROP',
          source,
          sourceId: d.sourceId,
          documentId: null,
          stored: false,
          reason,
          details: { bytes: Buffer.byteLength(d.content, 'utf8') },
        },
      ]);
      out.push(bare(r as KnowledgeReceipt));
    }
    return out;
  }

  /** Drops the document a source removed (a DROP receipt, `source_deleted`, also when none was stored). */
  async dropSource(
    orgId: string,
    source: KnowledgeSource,
    sourceId: string,
  ): Promise<KnowledgeReceipt> {
    const doc = await this.documents.find(orgId, source, sourceId);
    if (doc) return (await this.drop(orgId, doc.id, 'source_deleted')).receipt;
    const [r] = await this.receipts.write([
      {
        orgId,
        operation: 'DROP',
        source,
        sourceId,
        documentId: null,
        stored: false,
        reason: 'source_deleted',
        details: { stored: false },
      },
    ]);
    return bare(r as KnowledgeReceipt);
  }

  /** One accepted document; its last receipt. */
  async ingestOne(
    orgId: string,
    source: KnowledgeSource,
    doc: IncomingDocument,
  ): Promise<KnowledgeReceipt> {
    const contentHash = contentHashOf(doc.content);
    const base = { orgId, source, sourceId: doc.sourceId };
    const [ingested] = await this.receipts.write([
      {
        ...base,
        operation: 'INGEST',
        documentId: null,
        stored: true,
        details: { bytes: Buffer.byteLength(doc.content, 'utf8'), contentHash },
      },
    ]);
    const existing = await this.documents.find(orgId, source, doc.sourceId);
    if (existing?.contentHash === contentHash)
      return this.duplicate(base, existing.id, contentHash);

    const passages = chunkDocument(doc.content, this.config.vault.chunk);
    if (!passages.length) {
      const [r] = await this.receipts.write([
        { ...base, operation: 'DROP', documentId: null, stored: false, reason: 'empty' },
      ]);
      return bare(r ?? (ingested as KnowledgeReceipt));
    }
    let vectors: Float32Array[];
    try {
      vectors = await this.embedder.embed(passages.map((p) => p.text));
    } catch (e) {
      if (!(e instanceof EmbeddingUnavailableError)) throw e;
      const [r] = await this.receipts.write([
        {
          ...base,
          operation: 'EMBED',
          documentId: existing?.id ?? null,
          stored: false,
          reason: 'embedding_provider_down',
          details: {
            provider: this.embedder.provider,
            model: this.embedder.model,
            error: e.message,
          },
        },
      ]);
      return bare(r as KnowledgeReceipt);
    }
    const embedding = {
      provider: this.embedder.provider,
      model: this.embedder.model,
      dims: this.embedder.dims,
    };
    const committed = await this.documents.locked(orgId, async (tx) => {
      const outcome = await this.documents.replace(
        tx,
        {
          ...base,
          title: doc.title ?? null,
          content: doc.content,
          contentHash,
          metadata: doc.metadata ?? {},
        },
        passages.map((p, i) => ({
          ordinal: p.ordinal,
          text: p.text,
          vector: vectors[i] as Float32Array,
        })),
        embedding,
      );
      if (outcome.kind === 'duplicate') return { outcome, receipt: undefined };
      const receipts: ReceiptInit[] = [
        {
          ...base,
          operation: 'EMBED',
          documentId: outcome.documentId,
          stored: true,
          details: { ...embedding, passages: passages.length },
        },
        {
          ...base,
          operation: 'STORE',
          documentId: outcome.documentId,
          stored: true,
          details: {
            passages: passages.length,
            replaced: outcome.removed.length,
            created: outcome.created,
            contentHash,
          },
        },
      ];
      const written = await this.receipts.write(receipts, tx);
      return { outcome, receipt: written[1] };
    });
    const { outcome } = committed;
    // another request stored the same content while this one embedded
    if (outcome.kind === 'duplicate') return this.duplicate(base, outcome.documentId, contentHash);
    await this.index.apply(
      orgId,
      outcome.labels.map((label, i) => ({ label, source, vector: vectors[i] as Float32Array })),
      outcome.removed,
    );
    await this.events.stored({
      orgId,
      documentId: outcome.documentId,
      source,
      sourceId: doc.sourceId,
      contentHash,
      passages: passages.length,
    });
    return bare(committed.receipt as KnowledgeReceipt);
  }

  private async duplicate(
    base: { orgId: string; source: KnowledgeSource; sourceId: string },
    documentId: string,
    contentHash: string,
  ): Promise<KnowledgeReceipt> {
    const [r] = await this.receipts.write([
      {
        ...base,
        operation: 'STORE',
        documentId,
        stored: false,
        reason: 'duplicate',
        details: { contentHash },
      },
    ]);
    return bare(r as KnowledgeReceipt);
  }

  /** Drops a document by id (DELETE, or its source removed it): a DROP receipt and an event. */
  async drop(
    orgId: string,
    documentId: string,
    reason: 'deleted' | 'source_deleted',
  ): Promise<{ documentId: string; receipt: KnowledgeReceipt }> {
    const done = await this.documents.locked(orgId, async (tx) => {
      const doc = await this.documents.byId(orgId, documentId, tx);
      if (!doc) throw new DocumentNotFoundError(documentId);
      const labels = await this.documents.remove(tx, orgId, documentId);
      const [receipt] = await this.receipts.write(
        [
          {
            orgId,
            operation: 'DROP',
            source: doc.source,
            sourceId: doc.sourceId,
            documentId,
            stored: false,
            reason,
            details: { passages: labels.length },
          },
        ],
        tx,
      );
      return { doc, labels, receipt: receipt as KnowledgeReceipt };
    });
    await this.index.apply(orgId, [], done.labels);
    await this.events.dropped({
      orgId,
      documentId,
      source: done.doc.source,
      sourceId: done.doc.sourceId,
      contentHash: done.doc.contentHash,
      passages: done.labels.length,
      reason,
    });
    return { documentId, receipt: bare(done.receipt) };
  }
}
