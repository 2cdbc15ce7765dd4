import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { Access } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { type RunAccepted, type RunView, RunsService } from './runs.service.js';
import { idempotencyKey, runId, startRunBody } from './runs.schema.js';
import { RunNotFoundError } from '@heady/contracts';

@Controller('api/runs')
@Access('INTERNAL')
export class RunsController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  /** Starts a run. 202: accepted and durable; follow `links.self` for its progress. */
  @Post()
  @HttpCode(202)
  async start(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ): Promise<RunAccepted> {
    const parsed = parseOrThrow(startRunBody, body, 'body');
    const k = key === undefined ? undefined : parseOrThrow(idempotencyKey, key, 'Idempotency-Key');
    const { replayed: _replayed, ...accepted } = await this.runs.start(parsed, k);
    return accepted;
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<RunView> {
    if (!runId.safeParse(id).success) throw new RunNotFoundError(id);
    return this.runs.get(id);
  }
}
