import {
  ErrorCode,
  HeadyError,
  type KnowledgeReceipt,
  type KnowledgeSource,
  type ListReceiptsReply,
} from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { ReceiptsRepository } from './receipts.repository.js';

/** A page's cursor: the position of its last receipt (microseconds, id), base64url JSON. */
export function encodeCursor(us: string, id: string): string {
  return Buffer.from(JSON.stringify([us, id])).toString('base64url');
}

function decodeCursor(cursor: string): { us: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      typeof v[0] === 'string' &&
      /^\d{1,20}$/.test(v[0]) &&
      typeof v[1] === 'string' &&
      /^[0-9a-f-]{36}$/.test(v[1])
    )
      return { us: v[0], id: v[1] };
  } catch {
    // falls through to the refusal
  }
  throw new HeadyError(ErrorCode.ValidationFailed, 'cursor is not one this API gave out', {
    errors: [{ path: 'cursor', message: 'unknown cursor' }],
  });
}

/** Pages through an organization's receipts, oldest first. */
@Injectable()
export class ReceiptsService {
  constructor(@Inject(ReceiptsRepository) private readonly receipts: ReceiptsRepository) {}

  async list(q: {
    orgId: string;
    source?: KnowledgeSource | undefined;
    since?: string | undefined;
    documentId?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  }): Promise<ListReceiptsReply> {
    const rows = await this.receipts.list({
      orgId: q.orgId,
      source: q.source,
      since: q.since,
      documentId: q.documentId,
      limit: q.limit + 1,
      after: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      receipts: page.map(({ us: _us, ...r }): KnowledgeReceipt => r),
      nextCursor: rows.length > q.limit && last ? encodeCursor(last.us, last.id) : null,
    };
  }
}
