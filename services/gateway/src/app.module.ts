import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { HealthController } from './health/health.controller.js';
import { MemoryController } from './memory/memory.controller.js';
import { ProblemFilter } from './problem/problem.filter.js';
import { RunsController } from './runs/runs.controller.js';
import { RunEventsRepository } from './runs/run-events.repository.js';
import { RunsReadRepository } from './runs/runs.repository.js';
import { RunsService } from './runs/runs.service.js';

/** The public REST door. */
@Module({})
export class GatewayModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: GatewayModule,
      imports: [runtime],
      controllers: [RunsController, MemoryController, HealthController],
      providers: [
        RunsService,
        RunsReadRepository,
        RunEventsRepository,
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
