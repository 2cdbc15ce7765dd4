import { HandleRpc } from '@heady/bus';
import {
  DeleteKnowledgeDocument,
  IngestKnowledge,
  ListKnowledgeReceipts,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { ReceiptsService } from '../receipts/receipts.service.js';
import { IngestService } from './ingest.service.js';

/**
 * The vault's document and receipt RPCs (queue group `knowledge-vault`, so replicas share
 * them). Each request is signed and checked against its RPC's schema before it gets here.
 */
@Controller()
export class DocumentsController {
  constructor(
    @Inject(IngestService) private readonly ingestion: IngestService,
    @Inject(ReceiptsService) private readonly receipts: ReceiptsService,
  ) {}

  @HandleRpc(IngestKnowledge)
  ingest(
    @Payload() req: RpcHandled<typeof IngestKnowledge>,
  ): Promise<RpcReply<typeof IngestKnowledge>> {
    return this.ingestion.ingest(req.orgId, req.source, req.documents);
  }

  @HandleRpc(DeleteKnowledgeDocument)
  remove(
    @Payload() req: RpcHandled<typeof DeleteKnowledgeDocument>,
  ): Promise<RpcReply<typeof DeleteKnowledgeDocument>> {
    return this.ingestion.drop(req.orgId, req.documentId, 'deleted');
  }

  @HandleRpc(ListKnowledgeReceipts)
  list(
    @Payload() req: RpcHandled<typeof ListKnowledgeReceipts>,
  ): Promise<RpcReply<typeof ListKnowledgeReceipts>> {
    return this.receipts.list(req);
  }
}
