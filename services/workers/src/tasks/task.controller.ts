import { type JetStreamContext } from '@heady/bus';
import { STREAM_SUBJECTS, type Task } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TaskRunner } from './task-runner.service.js';

/** Every `work.<group>` task, from the workers' shared durable consumer. */
@Controller()
export class TaskController {
  constructor(@Inject(TaskRunner) private readonly runner: TaskRunner) {}

  @EventPattern(STREAM_SUBJECTS.work)
  handle(@Payload() task: Task, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.runner.handle(task, ctx);
  }
}
