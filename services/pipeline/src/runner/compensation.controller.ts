import { type JetStreamContext } from '@heady/bus';
import { type CompensationCommand, STREAM_SUBJECTS } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CompensationRunner } from './compensation-runner.service.js';

/** Every `pipeline.compensate.<stage>` command of the stages this process runs (HEADY_PIPELINE_STAGES). */
@Controller()
export class CompensationController {
  constructor(@Inject(CompensationRunner) private readonly runner: CompensationRunner) {}

  @EventPattern(STREAM_SUBJECTS.compensationCommands)
  handle(@Payload() cmd: CompensationCommand, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.runner.handle(cmd, ctx);
  }
}
