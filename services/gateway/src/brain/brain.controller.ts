import { ForbiddenError } from '@heady/contracts';
import { Body, Controller, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access, callerOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { idempotencyKey } from '../runs/runs.schema.js';
import { type RunAccepted, RunsService } from '../runs/runs.service.js';
import { Idempotent } from '../idempotency/idempotent.js';

/** Body of `POST /api/brain/chat`. */
export const chatBody = z
  .object({
    message: z.string().min(1).max(32_000),
    sessionId: z.string().min(1).max(200).optional(),
  })
  .strict();

/** Plans that may use the premium brain routes. */
const PREMIUM_PLANS = new Set(['PRO', 'ENTERPRISE']);

/** Premium chat: a run of the `chat` action, for Pro and Enterprise organizations. */
@Controller('api/brain')
@Access('INTERNAL')
export class BrainController {
  constructor(@Inject(RunsService) private readonly runs: RunsService) {}

  @Idempotent({ replay: 'handler' })
  @Post('chat')
  @HttpCode(202)
  async chat(
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ): Promise<RunAccepted> {
    const plan = callerOf(req).principal?.plan;
    if (!plan || !PREMIUM_PLANS.has(plan))
      throw new ForbiddenError(
        `POST /api/brain/chat needs the Pro or Enterprise plan; this organization is on ${plan ?? 'no plan'}`,
        { requiredPlan: 'PRO', plan: plan ?? null },
      );
    const parsed = parseOrThrow(chatBody, body, 'body');
    const k = key === undefined ? undefined : parseOrThrow(idempotencyKey, key, 'Idempotency-Key');
    const { replayed: _replayed, ...accepted } = await this.runs.start(
      {
        action: 'chat',
        input: { message: parsed.message },
        ...(parsed.sessionId ? { sessionId: parsed.sessionId } : {}),
      },
      k,
    );
    return accepted;
  }
}
