import { HandleRpc } from '@heady/bus';
import { type RpcHandled, type RpcReply, StartRun } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RunsService } from './runs.service.js';

/** Request/reply `conductor.runs.start` (queue group `conductor`, so replicas share it). */
@Controller()
export class RunsController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  @HandleRpc(StartRun)
  start(@Payload() req: RpcHandled<typeof StartRun>): Promise<RpcReply<typeof StartRun>> {
    return this.runs.start(req);
  }
}
