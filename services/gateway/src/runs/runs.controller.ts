import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { Access, matchedRoute, principalOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { RunStreamService } from './run-stream.service.js';
import { type RunAccepted, RunsService } from './runs.service.js';
import {
  type RunList,
  type RunView,
  idempotencyKey,
  listRunsQuery,
  runAccepted,
  runCancelled,
  runId,
  runList,
  runView,
  startRunBody,
} from './runs.schema.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { type z } from 'zod';

/** The response header naming the run's own trace (the `traceparent` header names the request's). */
export const RUN_TRACE_HEADER = 'Heady-Trace-Id';
import { Idempotent } from '../idempotency/idempotent.js';

@Controller('api/runs')
@Access('INTERNAL')
export class RunsController {
  constructor(
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(RunStreamService) private readonly streams: RunStreamService,
  ) {}

  /** Starts a run. 202: accepted and durable; follow `links.self` for its progress. */
  @ApiRoute({
    summary: 'Start a run',
    description: 'Accepted and durable once answered; follow `links.self` or `links.events`.',
    body: startRunBody,
    idempotent: true,
    success: { status: 202, description: 'the run is accepted', schema: runAccepted },
    problems: [400, 402, 409, 413, 415, 422, 503],
  })
  @Idempotent({ replay: 'handler' })
  @Post()
  @HttpCode(202)
  async start(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ): Promise<RunAccepted> {
    const parsed = parseOrThrow(startRunBody, body, 'body');
    const k = key === undefined ? undefined : parseOrThrow(idempotencyKey, key, 'Idempotency-Key');
    const { replayed: _replayed, ...accepted } = await this.runs.start(parsed, k, {
      principal: principalOf(req),
      route: matchedRoute(req),
    });
    return accepted;
  }

  /** The caller's organization's runs, newest first, a page at a time. */
  @ApiRoute({
    summary: "The caller's organization's runs, newest first (filter, then page with nextCursor)",
    description:
      'Only runs of the organization of the API key. `since` is inclusive, `until` exclusive ' +
      '(ISO 8601 times with an offset). `nextCursor` is opaque: pass it back as `cursor` with ' +
      'the same filters for the next page; it is null on the last page.',
    query: listRunsQuery,
    success: { status: 200, description: 'a page of runs', schema: runList },
    problems: [422, 503],
  })
  @Get()
  list(@Query() query: unknown, @Req() req: FastifyRequest): Promise<RunList> {
    return this.runs.list(principalOf(req).orgId, parseOrThrow(listRunsQuery, query, 'query'));
  }

  @ApiRoute({
    summary: 'A run: status, error, stages with their compensation, result, trace id',
    description:
      "`traceId` (and the `Heady-Trace-Id` header) is the run's own trace; the response's " +
      '`traceparent` names the trace of this request.',
    params: { id: runId },
    success: {
      status: 200,
      description: 'the run',
      schema: runView,
      headers: {
        [RUN_TRACE_HEADER]: {
          description: "the run's W3C trace id (absent when the run was started untraced)",
          schema: { type: 'string' },
        },
      },
    },
    problems: [404, 422, 503],
  })
  @Get(':id')
  async get(
    @Param('id') id: string,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunView> {
    const view = await this.runs.get(parseOrThrow(runId, id, 'path.id'), principalOf(req).orgId);
    if (view.traceId) void reply.header(RUN_TRACE_HEADER, view.traceId);
    return view;
  }

  /** Cancels a run: 202 with CANCELLING (or CANCELLED); repeating it is harmless; 409 once it ended otherwise. */
  @ApiRoute({
    summary: 'Cancel a run',
    params: { id: runId },
    success: { status: 202, description: 'CANCELLING (or CANCELLED)', schema: runCancelled },
    problems: [404, 409, 422, 503],
  })
  @Post(':id/cancel')
  @HttpCode(202)
  cancel(
    @Param('id') id: string,
    @Req() req: FastifyRequest,
  ): Promise<z.infer<typeof runCancelled>> {
    return this.runs.cancel(parseOrThrow(runId, id, 'path.id'), principalOf(req).orgId);
  }

  /**
   * The run's events as server-sent events: history first, then live, until the run's
   * terminal event (or an idle timeout). Each event's id is its RUN_EVENTS sequence;
   * `Last-Event-ID` resumes after it. Open streams are capped per API key (429).
   */
  @ApiRoute({
    summary: "The run's events as server-sent events (history, then live)",
    params: { id: runId },
    description:
      'Each event id is its RUN_EVENTS sequence; send `Last-Event-ID` to resume after it. ' +
      "The stream ends after the run's terminal event (run.succeeded, run.failed, " +
      'run.compensated, run.cancelled) or after HEADY_SSE_IDLE_TIMEOUT_MS without an event ' +
      '(keep-alive comments do not count). 429 when the API key already holds ' +
      'HEADY_SSE_MAX_PER_KEY open streams.',
    success: {
      status: 200,
      description: 'an event stream',
      contentType: 'text/event-stream',
      schema: { type: 'string' },
    },
    problems: [404, 422, 503],
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'resume after this event id' })
  @Get(':id/events')
  async events$(
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    parseOrThrow(runId, id, 'path.id');
    // 404 before the stream opens, for an unknown run and another organization's alike
    await this.runs.assertVisible(id, principalOf(req).orgId);
    const after = /^\d{1,15}$/.test(lastEventId ?? '') ? Number(lastEventId) : 0;
    // INTERNAL route: the guard let only API keys through
    const lease = await this.streams.admit(principalOf(req).keyId);
    reply.hijack();
    await this.streams.serve(lease, id, after, reply.raw);
  }
}
