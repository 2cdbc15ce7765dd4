import { type ApiKeyInfo } from '@heady/db';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { Access, callerOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { apiKeyId, apiKeyList, createApiKeyBody, createdApiKey } from './api-keys.schema.js';
import { ApiKeysService } from './api-keys.service.js';
import { Idempotent } from '../idempotency/idempotent.js';
import { ApiRoute } from '../openapi/route-doc.js';

/** API keys of the caller's organization. The key itself is returned once, by POST. */
@Controller('api/admin/api-keys')
@Access('INTERNAL')
export class ApiKeysController {
  constructor(@Inject(ApiKeysService) private readonly keys: ApiKeysService) {}

  @ApiRoute({
    summary: "Create an API key in the caller's organization (the key is shown once)",
    body: createApiKeyBody,
    idempotent: true,
    success: { status: 201, description: 'the key and its record', schema: createdApiKey },
    problems: [400, 409, 413, 415, 422],
  })
  @Idempotent()
  @Post()
  @HttpCode(201)
  create(@Req() req: FastifyRequest, @Body() body: unknown): Promise<{ key: string } & ApiKeyInfo> {
    return this.keys.create(callerOf(req), parseOrThrow(createApiKeyBody, body ?? {}, 'body'));
  }

  @ApiRoute({
    summary: "The API keys of the caller's organization (never the keys themselves)",
    success: { status: 200, description: 'the keys', schema: apiKeyList },
  })
  @Get()
  async list(@Req() req: FastifyRequest): Promise<{ items: ApiKeyInfo[] }> {
    return { items: await this.keys.list(callerOf(req)) };
  }

  @ApiRoute({
    summary: 'Revoke an API key',
    params: { id: apiKeyId },
    success: { status: 204, description: 'revoked' },
    problems: [404, 422],
  })
  @Delete(':id')
  @HttpCode(204)
  async revoke(@Req() req: FastifyRequest, @Param('id') id: string): Promise<void> {
    await this.keys.revoke(callerOf(req), parseOrThrow(apiKeyId, id, 'path.id'));
  }
}
