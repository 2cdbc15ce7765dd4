import { RUN_STATE_EVENTS, type RunEvent } from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { UsageService } from './usage.service.js';

/** Durable consumer `billing-usage` on `runs.*.run.*`: a finished run's usage, recorded once. */
@Controller()
export class RunEventsController {
  constructor(@Inject(UsageService) private readonly usage: UsageService) {}

  @EventPattern(RUN_STATE_EVENTS)
  ended(@Payload() e: RunEvent): Promise<void> {
    return this.usage.onRunEvent(e.runId, e.event);
  }
}
