import { HandleRpc } from '@heady/bus';
import {
  KnowledgeRepoCursor,
  type RpcHandled,
  type RpcReply,
  SyncKnowledgeRepo,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { ReposService } from './repos.service.js';

/** `knowledge.repos.*`: batches of a repository's files and the cursor they advance. */
@Controller()
export class ReposController {
  constructor(@Inject(ReposService) private readonly repos: ReposService) {}

  @HandleRpc(SyncKnowledgeRepo)
  sync(
    @Payload() req: RpcHandled<typeof SyncKnowledgeRepo>,
  ): Promise<RpcReply<typeof SyncKnowledgeRepo>> {
    return this.repos.sync(req);
  }

  @HandleRpc(KnowledgeRepoCursor)
  async cursor(
    @Payload() req: RpcHandled<typeof KnowledgeRepoCursor>,
  ): Promise<RpcReply<typeof KnowledgeRepoCursor>> {
    return { repo: req.repo, commit: await this.repos.cursor(req.orgId, req.repo) };
  }
}
