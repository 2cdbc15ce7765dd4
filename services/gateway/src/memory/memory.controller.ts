import { BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { Access } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import {
  insertVectorsBody,
  memorySessionId,
  organization,
  searchBody,
  zoneQuery,
} from './memory.schema.js';

/** The organization whose memory a request reads or writes. */
export const DEFAULT_ORGANIZATION = 'default';

/**
 * The caller's organization. Until the gateway authenticates callers, it is the
 * `X-Heady-Org` header (default `default`); vector memory keeps each organization's
 * vectors apart.
 */
export function organizationOf(header: string | undefined): string {
  return header === undefined
    ? DEFAULT_ORGANIZATION
    : parseOrThrow(organization, header, 'X-Heady-Org');
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
  @Post('vectors')
  @HttpCode(201)
  insert(@Body() body: unknown, @Headers('x-heady-org') org?: string): Promise<unknown> {
    const b = parseOrThrow(insertVectorsBody, body, 'body');
    return this.call('memory.vectors.insert', { orgId: organizationOf(org), ...b });
  }

  /** similaritySearch: cosine top-k by text or by embedding, optionally within a session. */
  @Post('search')
  @HttpCode(200)
  search(@Body() body: unknown, @Headers('x-heady-org') org?: string): Promise<unknown> {
    const b = parseOrThrow(searchBody, body, 'body');
    return this.call('memory.search', { orgId: organizationOf(org), ...b });
  }

  /** getZoneForQuery: the query's octant (0–7) on the organization's three principal axes. */
  @Get('zone')
  zone(@Query() query: unknown, @Headers('x-heady-org') org?: string): Promise<unknown> {
    const q = parseOrThrow(zoneQuery, query, 'query');
    return this.call('memory.zone', { orgId: organizationOf(org), query: q.q });
  }

  /** getStats: totals, sessions, time range, index health. */
  @Get('stats')
  stats(@Headers('x-heady-org') org?: string): Promise<unknown> {
    return this.call('memory.stats', { orgId: organizationOf(org) });
  }

  /** Forgets a session (erasure: PROPRIETARY clearance). */
  @Delete('sessions/:id')
  @Access('PROPRIETARY')
  deleteSession(@Param('id') id: string, @Headers('x-heady-org') org?: string): Promise<unknown> {
    const sessionId = parseOrThrow(memorySessionId, id, 'sessionId');
    return this.call('memory.sessions.delete', { orgId: organizationOf(org), sessionId });
  }
}
