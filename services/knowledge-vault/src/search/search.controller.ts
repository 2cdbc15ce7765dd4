import { HandleRpc } from '@heady/bus';
import { type RpcHandled, type RpcReply, SearchKnowledge } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { SearchService } from './search.service.js';

/** `knowledge.search`, answered for the gateway and the pipeline (org-scoped by the request). */
@Controller()
export class SearchController {
  constructor(@Inject(SearchService) private readonly searches: SearchService) {}

  @HandleRpc(SearchKnowledge)
  search(
    @Payload() req: RpcHandled<typeof SearchKnowledge>,
  ): Promise<RpcReply<typeof SearchKnowledge>> {
    return this.searches.search(req);
  }
}
