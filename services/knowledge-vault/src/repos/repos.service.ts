import { type KnowledgeReceipt, type RepoSyncReply } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { IngestService } from '../documents/ingest.service.js';
import { RepoCursorsRepository } from './repo-cursors.repository.js';

/** Markdown is split by headings; every other file as plain text. */
function contentTypeOf(path: string): string {
  return /\.(md|markdown|mdx)$/i.test(path) ? 'text/markdown' : 'text/plain';
}

/**
 * A git repository's files as REPO documents (source id = path, metadata = repository and
 * commit), sent in batches by `heady vault ingest repo`, which diffs from the cursor this
 * keeps. A file the vault refuses (too large, empty) gets its own DROP receipt and the rest
 * go on; a deleted path is dropped (`source_deleted`); the batch marked `final` moves the
 * cursor, after everything before it was stored.
 */
@Injectable()
export class ReposService {
  constructor(
    @Inject(IngestService) private readonly ingestion: IngestService,
    @Inject(RepoCursorsRepository) private readonly cursors: RepoCursorsRepository,
  ) {}

  cursor(orgId: string, repo: string): Promise<string | null> {
    return this.cursors.get(orgId, repo);
  }

  async sync(r: {
    orgId: string;
    repo: string;
    commit: string;
    upserts: { path: string; content: string }[];
    deletes: string[];
    final: boolean;
  }): Promise<RepoSyncReply> {
    const receipts: KnowledgeReceipt[] = await this.ingestion.ingestEach(
      r.orgId,
      'REPO',
      r.upserts.map((f) => ({
        sourceId: f.path,
        title: f.path,
        content: f.content,
        contentType: contentTypeOf(f.path),
        metadata: { repo: r.repo, commit: r.commit },
      })),
    );
    for (const path of r.deletes)
      receipts.push(await this.ingestion.dropSource(r.orgId, 'REPO', path));
    if (r.final) await this.cursors.set(r.orgId, r.repo, r.commit);
    return { receipts, commit: await this.cursors.get(r.orgId, r.repo) };
  }
}
