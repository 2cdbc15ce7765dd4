import { type JetStreamContext } from '@heady/bus';
import { STREAM_SUBJECTS, type StageCommand } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { StageRunner } from './stage-runner.service.js';

/** Every `pipeline.stage.<stage>` command this process consumes (which stages: HEADY_PIPELINE_STAGES). */
@Controller()
export class StageController {
  constructor(@Inject(StageRunner) private readonly runner: StageRunner) {}

  @EventPattern(STREAM_SUBJECTS.stageCommands)
  handle(@Payload() cmd: StageCommand, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.runner.handle(cmd, ctx);
  }
}
