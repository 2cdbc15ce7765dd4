import { Body, Controller, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access, RequiresPlan, matchedRoute, principalOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { idempotencyKey, runAccepted } from '../runs/runs.schema.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { UNSTORABLE_TEXT, storableText } from '../problem/pg-text.js';
import { type RunAccepted, RunsService } from '../runs/runs.service.js';
import { Idempotent } from '../idempotency/idempotent.js';

/** Body of `POST /api/brain/chat`. */
export const chatBody = z
  .object({
    message: z.string().min(1).max(32_000),
    sessionId: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine(storableText, UNSTORABLE_TEXT);

/** Premium chat: a run of the `chat` action, for Pro and Enterprise organizations. */
@Controller('api/brain')
@Access('INTERNAL')
export class BrainController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  @ApiRoute({
    summary: 'Premium chat: starts a run of the chat action',
    body: chatBody,
    idempotent: true,
    success: { status: 202, description: 'the chat run is accepted', schema: runAccepted },
    problems: [400, 409, 413, 415, 422, 503],
  })
  @Idempotent({ replay: 'handler' })
  @RequiresPlan('PRO', 'ENTERPRISE')
  @Post('chat')
  @HttpCode(202)
  async chat(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ): Promise<RunAccepted> {
    const parsed = parseOrThrow(chatBody, body, 'body');
    const k = key === undefined ? undefined : parseOrThrow(idempotencyKey, key, 'Idempotency-Key');
    const { replayed: _replayed, ...accepted } = await this.runs.start(
      {
        action: 'chat',
        input: { message: parsed.message },
        ...(parsed.sessionId ? { sessionId: parsed.sessionId } : {}),
      },
      k,
      { principal: principalOf(req), route: matchedRoute(req) },
    );
    return accepted;
  }
}
