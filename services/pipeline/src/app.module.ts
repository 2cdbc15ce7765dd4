import { type DynamicModule, Module } from '@nestjs/common';
import { CompensationController } from './runner/compensation.controller.js';
import { CompensationRunner } from './runner/compensation-runner.service.js';
import { RunEvents } from './runner/run-events.js';
import { StageController } from './runner/stage.controller.js';
import { StageRunner } from './runner/stage-runner.service.js';
import { StageRunsRepository } from './runner/stage-runs.repository.js';

/** The pipeline: the nine stage consumers and their compensation consumers (which of them this process runs is configuration). */
@Module({})
export class PipelineModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: PipelineModule,
      imports: [runtime],
      controllers: [StageController, CompensationController],
      providers: [StageRunsRepository, StageRunner, CompensationRunner, RunEvents],
    };
  }
}
