import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { Access } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { RunEventsRepository } from './run-events.repository.js';
import { type RunAccepted, type RunView, RunsService } from './runs.service.js';
import { idempotencyKey, runAccepted, runId, startRunBody } from './runs.schema.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { RunNotFoundError } from '@heady/contracts';
import { Idempotent } from '../idempotency/idempotent.js';

@Controller('api/runs')
@Access('INTERNAL')
export class RunsController {
  constructor(
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(RunEventsRepository) private readonly events: RunEventsRepository,
  ) {}

  /** Starts a run. 202: accepted and durable; follow `links.self` for its progress. */
  @ApiRoute({
    summary: 'Start a run',
    description: 'Accepted and durable once answered; follow `links.self` or `links.events`.',
    body: startRunBody,
    idempotent: true,
    success: { status: 202, description: 'the run is accepted', schema: runAccepted },
    problems: [400, 409, 413, 415, 422, 503],
  })
  @Idempotent({ replay: 'handler' })
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

  @ApiRoute({
    summary: 'A run: status, stages, result',
    params: { id: runId },
    success: { status: 200, description: 'the run' },
    problems: [404, 503],
  })
  @Get(':id')
  get(@Param('id') id: string): Promise<RunView> {
    if (!runId.safeParse(id).success) throw new RunNotFoundError(id);
    return this.runs.get(id);
  }

  /** Cancels a run: 202 with CANCELLING (or CANCELLED); repeating it is harmless; 409 once it ended otherwise. */
  @ApiRoute({
    summary: 'Cancel a run',
    params: { id: runId },
    success: { status: 202, description: 'CANCELLING (or CANCELLED)' },
    problems: [404, 409, 503],
  })
  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id') id: string): Promise<{ runId: string; status: string }> {
    if (!runId.safeParse(id).success) throw new RunNotFoundError(id);
    return this.runs.cancel(id);
  }

  /**
   * The run's events as server-sent events: history first, then live, until the run ends.
   * Each event's id is its RUN_EVENTS sequence; `Last-Event-ID` resumes after it.
   */
  @ApiRoute({
    summary: "The run's events as server-sent events (history, then live)",
    params: { id: runId },
    description:
      'Each event id is its RUN_EVENTS sequence; send `Last-Event-ID` to resume after it.',
    success: {
      status: 200,
      description: 'an event stream',
      contentType: 'text/event-stream',
      schema: { type: 'string' },
    },
    problems: [404, 503],
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this event id' })
  @Get(':id/events')
  async events$(
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (!runId.safeParse(id).success) throw new RunNotFoundError(id);
    await this.runs.get(id); // 404 before the stream opens
    const after = /^\d{1,15}$/.test(lastEventId ?? '') ? Number(lastEventId) : 0;
    const abort = new AbortController();
    req.raw.on('close', () => abort.abort());
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    out.write(': run events\n\n');
    try {
      for await (const e of this.events.follow(id, after, abort.signal)) {
        out.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      }
    } catch (err) {
      out.write(`event: error\ndata: ${JSON.stringify({ detail: String(err) })}\n\n`);
    } finally {
      out.end();
    }
  }
}
