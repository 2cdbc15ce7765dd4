import { type DynamicModule, Module } from '@nestjs/common';
import { ProviderChains } from './providers/provider-chains.js';
import { TaskController } from './tasks/task.controller.js';
import { TaskEvents } from './tasks/task-events.js';
import { TaskRunner } from './tasks/task-runner.service.js';
import { TaskRunsRepository } from './tasks/task-runs.repository.js';

/** The workers: tasks from `work.<group>`, run on each group's model providers. */
@Module({})
export class WorkersModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: WorkersModule,
      imports: [runtime],
      controllers: [TaskController],
      providers: [TaskRunsRepository, ProviderChains, TaskEvents, TaskRunner],
    };
  }
}
