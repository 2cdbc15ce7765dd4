import {
  DeleteKnowledgeDocument,
  IngestKnowledge,
  KnowledgeRepoCursor,
  KnowledgeSettings,
  ListKnowledgeReceipts,
  SyncKnowledgeRepo,
  SearchKnowledge,
  UnauthenticatedError,
} from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
import { type GatewayConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import { type z } from 'zod';
import { Access, callerOf } from '../auth/access.js';
import { Idempotent } from '../idempotency/idempotent.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import {
  deleteReply,
  documentId,
  ingestDocumentsBody,
  ingestReply,
  listReceiptsQuery,
  knowledgeSettingsBody,
  receiptsReply,
  settingsReply,
  repoCursorQuery,
  repoCursorReply,
  repoSyncBody,
  repoSyncReply,
  searchKnowledgeQuery,
  searchReply,
} from './knowledge.schema.js';

/** Ingest embeds every passage before it answers: longer than a plain request. */
const INGEST_TIMEOUT_MS = 120_000;

/** The caller's organization (knowledge routes need an API key); the vault scopes everything by it. */
function organizationOf(req: object): string {
  const orgId = callerOf(req).principal?.orgId;
  if (!orgId) throw new UnauthenticatedError('the knowledge vault needs an API key');
  return orgId;
}

/** The knowledge vault over REST: each route is one signed request/reply to `knowledge.*`. */
@Controller('api/knowledge')
@Access('INTERNAL')
export class KnowledgeController {
  constructor(
    @Inject(ServiceRpc) private readonly rpc: ServiceRpc,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** One typed request/reply; the answer is read through the route's documented schema. */

  @ApiRoute({
    summary: 'Store documents (source UPLOAD): one receipt per document, in order',
    description:
      'Each document is split into passages and embedded. An unchanged document (same content hash) stores nothing new; ' +
      'a changed one replaces its passages atomically. A batch with an empty, oversized or unsupported document is ' +
      'refused whole (413 or 422, with the DROP receipts in `receipts`).',
    body: ingestDocumentsBody,
    idempotent: true,
    success: { status: 201, description: 'the last receipt of each document', schema: ingestReply },
    problems: [400, 409, 413, 415, 422, 503],
  })
  @Idempotent()
  @Post('documents')
  @HttpCode(201)
  ingest(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof ingestReply>> {
    const b = parseOrThrow(ingestDocumentsBody, body, 'body');
    return this.rpc.call(
      IngestKnowledge,
      { orgId: organizationOf(req), source: 'UPLOAD', ...b },
      ingestReply,
      Math.max(INGEST_TIMEOUT_MS, this.config.nats.rpcTimeoutMs),
    );
  }

  @ApiRoute({
    summary: 'Drop a document and its passages (a DROP receipt)',
    params: { id: documentId },
    success: { status: 200, description: 'the DROP receipt', schema: deleteReply },
    problems: [404, 422, 503],
  })
  @Delete('documents/:id')
  @Access('PROPRIETARY')
  remove(@Param('id') id: string, @Req() req: object): Promise<z.infer<typeof deleteReply>> {
    const doc = parseOrThrow(documentId, id, 'path.id');
    return this.rpc.call(
      DeleteKnowledgeDocument,
      { orgId: organizationOf(req), documentId: doc },
      deleteReply,
    );
  }

  @ApiRoute({
    summary: 'Search passages: hybrid (BM25 + vectors, fused by RRF), lexical or vector',
    query: searchKnowledgeQuery,
    success: {
      status: 200,
      description: 'the best passages, with attribution',
      schema: searchReply,
    },
    problems: [422, 503],
  })
  @Get('search')
  search(@Query() query: unknown, @Req() req: object): Promise<z.infer<typeof searchReply>> {
    const q = parseOrThrow(searchKnowledgeQuery, query, 'query');
    return this.rpc.call(SearchKnowledge, { orgId: organizationOf(req), ...q }, searchReply);
  }

  @ApiRoute({
    summary: 'Page through receipts, oldest first',
    query: listReceiptsQuery,
    success: { status: 200, description: 'a page of receipts', schema: receiptsReply },
    problems: [422, 503],
  })
  @Get('receipts')
  receipts(@Query() query: unknown, @Req() req: object): Promise<z.infer<typeof receiptsReply>> {
    const q = parseOrThrow(listReceiptsQuery, query, 'query');
    return this.rpc.call(
      ListKnowledgeReceipts,
      { orgId: organizationOf(req), ...q },
      receiptsReply,
    );
  }

  @ApiRoute({
    summary: "Store a batch of a git repository's files (source REPO; `heady vault ingest repo`)",
    description:
      'Source id = path, metadata = repository and commit. A refused file gets its own DROP receipt; ' +
      '`deletes` are dropped (`source_deleted`); the batch with `final: true` moves the cursor to `commit`.',
    body: repoSyncBody,
    success: { status: 200, description: "each file's last receipt", schema: repoSyncReply },
    problems: [400, 413, 415, 422, 503],
  })
  @Post('repos/sync')
  @HttpCode(200)
  syncRepo(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof repoSyncReply>> {
    const b = parseOrThrow(repoSyncBody, body, 'body');
    return this.rpc.call(
      SyncKnowledgeRepo,
      { orgId: organizationOf(req), ...b },
      repoSyncReply,
      Math.max(INGEST_TIMEOUT_MS, this.config.nats.rpcTimeoutMs),
    );
  }

  @ApiRoute({
    summary: 'The last commit of a repository fully ingested',
    query: repoCursorQuery,
    success: { status: 200, description: 'the cursor', schema: repoCursorReply },
    problems: [422, 503],
  })
  @Get('repos/cursor')
  repoCursor(
    @Query() query: unknown,
    @Req() req: object,
  ): Promise<z.infer<typeof repoCursorReply>> {
    const q = parseOrThrow(repoCursorQuery, query, 'query');
    return this.rpc.call(
      KnowledgeRepoCursor,
      { orgId: organizationOf(req), ...q },
      repoCursorReply,
    );
  }

  @ApiRoute({
    summary: "The organization's vault opt-ins",
    success: { status: 200, description: 'the settings', schema: settingsReply },
    problems: [503],
  })
  @Get('settings')
  settings(@Req() req: object): Promise<z.infer<typeof settingsReply>> {
    return this.rpc.call(KnowledgeSettings, { orgId: organizationOf(req) }, settingsReply);
  }

  @ApiRoute({
    summary: "Change the organization's vault opt-ins (pipelineResults: store finalized runs)",
    body: knowledgeSettingsBody,
    success: { status: 200, description: 'the settings after the change', schema: settingsReply },
    problems: [400, 415, 422, 503],
  })
  @Put('settings')
  @Access('PROPRIETARY')
  changeSettings(
    @Body() body: unknown,
    @Req() req: object,
  ): Promise<z.infer<typeof settingsReply>> {
    const b = parseOrThrow(knowledgeSettingsBody, body, 'body');
    return this.rpc.call(KnowledgeSettings, { orgId: organizationOf(req), ...b }, settingsReply);
  }
}
