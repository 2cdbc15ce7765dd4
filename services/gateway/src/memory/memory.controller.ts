import { UnauthenticatedError } from '@heady/contracts';
import { BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { Access, callerOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { insertVectorsBody, memorySessionId, searchBody, zoneQuery } from './memory.schema.js';
import { Idempotent } from '../idempotency/idempotent.js';
import { ApiRoute } from '../openapi/route-doc.js';

/**
 * The caller's organization: the one its API key belongs to (memory routes need a key).
 * Vector memory keeps each organization's vectors apart.
 */
export function organizationOf(req: object): string {
  const orgId = callerOf(req).principal?.orgId;
  if (!orgId) throw new UnauthenticatedError('vector memory needs an API key');
  return orgId;
}

/** Vector memory over REST: each route is one signed request/reply to `memory.*`. */
@Controller('api/memory')
@Access('INTERNAL')
export class MemoryController {
  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  private call(subject: string, payload: Record<string, unknown>): Promise<unknown> {
    return this.bus.request(
      subject,
      { json: payload },
      { timeoutMs: this.config.nats.rpcTimeoutMs },
    );
  }

  /** insertVector: stores texts (embedded by the deployment's provider unless given). 201 with their ids. */
  @ApiRoute({
    summary: 'insertVector: store texts (embedded unless given)',
    body: insertVectorsBody,
    idempotent: true,
    success: { status: 201, description: 'the ids of the stored vectors' },
    problems: [400, 409, 413, 415, 422, 503],
  })
  @Idempotent()
  @Post('vectors')
  @HttpCode(201)
  insert(@Body() body: unknown, @Req() req: object): Promise<unknown> {
    const b = parseOrThrow(insertVectorsBody, body, 'body');
    return this.call('memory.vectors.insert', { orgId: organizationOf(req), ...b });
  }

  /** similaritySearch: cosine top-k by text or by embedding, optionally within a session. */
  @ApiRoute({
    summary: 'similaritySearch: cosine top-k by text or by embedding',
    body: searchBody,
    success: { status: 200, description: 'the nearest vectors' },
    problems: [400, 413, 415, 422, 503],
  })
  @Post('search')
  @HttpCode(200)
  search(@Body() body: unknown, @Req() req: object): Promise<unknown> {
    const b = parseOrThrow(searchBody, body, 'body');
    return this.call('memory.search', { orgId: organizationOf(req), ...b });
  }

  /** getZoneForQuery: the query's octant (0–7) on the organization's three principal axes. */
  @ApiRoute({
    summary: "getZoneForQuery: the query's octant (0–7)",
    query: zoneQuery,
    success: { status: 200, description: 'the zone' },
    problems: [409, 422, 503],
  })
  @Get('zone')
  zone(@Query() query: unknown, @Req() req: object): Promise<unknown> {
    const q = parseOrThrow(zoneQuery, query, 'query');
    return this.call('memory.zone', { orgId: organizationOf(req), query: q.q });
  }

  /** getStats: totals, sessions, time range, index health. */
  @ApiRoute({
    summary: 'getStats: totals, sessions, time range, index health',
    success: { status: 200, description: 'the statistics' },
    problems: [503],
  })
  @Get('stats')
  stats(@Req() req: object): Promise<unknown> {
    return this.call('memory.stats', { orgId: organizationOf(req) });
  }

  /** Forgets a session (erasure: PROPRIETARY clearance). */
  @ApiRoute({
    summary: 'Forget a session (erasure)',
    params: { id: memorySessionId },
    success: { status: 200, description: 'what was deleted' },
    problems: [422, 503],
  })
  @Delete('sessions/:id')
  @Access('PROPRIETARY')
  deleteSession(@Param('id') id: string, @Req() req: object): Promise<unknown> {
    const sessionId = parseOrThrow(memorySessionId, id, 'sessionId');
    return this.call('memory.sessions.delete', { orgId: organizationOf(req), sessionId });
  }
}
