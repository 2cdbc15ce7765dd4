import {
  DeleteMemorySession,
  InsertVectors,
  MemoryStats,
  MemoryZone,
  SearchMemory,
  UnauthenticatedError,
} from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
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
import {
  deleteSessionReply,
  insertVectorsBody,
  insertVectorsReply,
  memorySessionId,
  searchBody,
  searchReply,
  statsReply,
  zoneQuery,
  zoneReply,
} from './memory.schema.js';
import { type z } from 'zod';
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
  constructor(@Inject(ServiceRpc) private readonly rpc: ServiceRpc) {}

  /**
   * One typed request/reply to vector memory; its reply is read through the route's
   * documented schema, so the OpenAPI document and the answers cannot drift apart.
   */

  /** insertVector: stores texts (embedded by the deployment's provider unless given). 201 with their ids. */
  @ApiRoute({
    summary: 'insertVector: store texts (embedded unless given)',
    body: insertVectorsBody,
    idempotent: true,
    success: {
      status: 201,
      description: 'the ids of the stored vectors',
      schema: insertVectorsReply,
    },
    problems: [400, 409, 413, 415, 422, 503],
  })
  @Idempotent()
  @Post('vectors')
  @HttpCode(201)
  insert(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof insertVectorsReply>> {
    const b = parseOrThrow(insertVectorsBody, body, 'body');
    return this.rpc.call(InsertVectors, { orgId: organizationOf(req), ...b }, insertVectorsReply);
  }

  /** similaritySearch: cosine top-k by text or by embedding, optionally within a session. */
  @ApiRoute({
    summary: 'similaritySearch: cosine top-k by text or by embedding',
    body: searchBody,
    success: { status: 200, description: 'the nearest vectors', schema: searchReply },
    problems: [400, 413, 415, 422, 503],
  })
  @Post('search')
  @HttpCode(200)
  search(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof searchReply>> {
    const b = parseOrThrow(searchBody, body, 'body');
    return this.rpc.call(SearchMemory, { orgId: organizationOf(req), ...b }, searchReply);
  }

  /** getZoneForQuery: the query's octant (0–7) on the organization's three principal axes. */
  @ApiRoute({
    summary: "getZoneForQuery: the query's octant (0–7)",
    query: zoneQuery,
    success: { status: 200, description: 'the zone', schema: zoneReply },
    problems: [409, 422, 503],
  })
  @Get('zone')
  zone(@Query() query: unknown, @Req() req: object): Promise<z.infer<typeof zoneReply>> {
    const q = parseOrThrow(zoneQuery, query, 'query');
    return this.rpc.call(MemoryZone, { orgId: organizationOf(req), query: q.q }, zoneReply);
  }

  /** getStats: totals, sessions, time range, index health. */
  @ApiRoute({
    summary: 'getStats: totals, sessions, time range, index health',
    success: { status: 200, description: 'the statistics', schema: statsReply },
    problems: [503],
  })
  @Get('stats')
  stats(@Req() req: object): Promise<z.infer<typeof statsReply>> {
    return this.rpc.call(MemoryStats, { orgId: organizationOf(req) }, statsReply);
  }

  /** Forgets a session (erasure: PROPRIETARY clearance). */
  @ApiRoute({
    summary: 'Forget a session (erasure)',
    params: { id: memorySessionId },
    success: { status: 200, description: 'what was deleted', schema: deleteSessionReply },
    problems: [422, 503],
  })
  @Delete('sessions/:id')
  @Access('PROPRIETARY')
  deleteSession(
    @Param('id') id: string,
    @Req() req: object,
  ): Promise<z.infer<typeof deleteSessionReply>> {
    const sessionId = parseOrThrow(memorySessionId, id, 'path.id');
    return this.rpc.call(
      DeleteMemorySession,
      { orgId: organizationOf(req), sessionId },
      deleteSessionReply,
    );
  }
}
