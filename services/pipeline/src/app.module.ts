import { type DynamicModule, Module } from '@nestjs/common';
import { RunEvents } from './runner/run-events.js';
import { StageController } from './runner/stage.controller.js';
import { StageRunner } from './runner/stage-runner.service.js';
import { StageRunsRepository } from './runner/stage-runs.repository.js';

/** The pipeline: the nine stage consumers (which of them this process runs is configuration). */
@Module({})
export class PipelineModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: PipelineModule,
      imports: [runtime],
      controllers: [StageController],
      providers: [StageRunsRepository, StageRunner, RunEvents],
    };
  }
}
