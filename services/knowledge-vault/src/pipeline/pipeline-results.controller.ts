import { HandleRpc } from '@heady/bus';
import {
  KnowledgeSettings,
  RUN_EVENTS_PREFIX,
  type RunEvent,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { PipelineResultsService } from './pipeline-results.service.js';

/** `runs.<runId>.run.succeeded`, the filter of the vault's `knowledge-pipeline` durable. */
export const RUN_SUCCEEDED_PATTERN = `${RUN_EVENTS_PREFIX}*.run.succeeded`;

/**
 * The durable consumer `knowledge-pipeline` on RUN_EVENTS (one for all replicas): a
 * succeeded run of an opted-in organization becomes a PIPELINE document. A redelivery finds
 * the document unchanged (same content hash) and stores nothing new.
 */
@Controller()
export class PipelineResultsController {
  constructor(@Inject(PipelineResultsService) private readonly results: PipelineResultsService) {}

  @EventPattern(RUN_SUCCEEDED_PATTERN)
  async succeeded(@Payload() e: RunEvent): Promise<void> {
    await this.results.take(e.runId);
  }

  @HandleRpc(KnowledgeSettings)
  async settings(
    @Payload() req: RpcHandled<typeof KnowledgeSettings>,
  ): Promise<RpcReply<typeof KnowledgeSettings>> {
    if (req.pipelineResults !== undefined)
      await this.results.change(req.orgId, req.pipelineResults);
    return this.results.settingsOf(req.orgId);
  }
}
