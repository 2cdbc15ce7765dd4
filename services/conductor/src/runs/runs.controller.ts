import { type StartRunReply, type StartRunRequest } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RunsService } from './runs.service.js';

/** Request/reply `conductor.runs.start` (queue group `conductor`, so replicas share it). */
@Controller()
export class RunsController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  @MessagePattern('conductor.runs.start')
  start(@Payload() req: StartRunRequest): Promise<StartRunReply> {
    return this.runs.start(req);
  }
}
