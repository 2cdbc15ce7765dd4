import { Body, Controller, Headers, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { type GatewayConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access, RequiresPlan, matchedRoute, principalOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { idempotencyKey, runAccepted, runView } from '../runs/runs.schema.js';
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

/** `?wait=true` on `POST /api/brain/chat`: answer synchronously (as `Prefer: wait=30`). */
export const chatQuery = z.object({ wait: z.enum(['true', 'false']).optional() }).strict();

/** What a chat that ended within its wait answers: 200, the answer and the run it was. */
export const chatAnswered = runAccepted.extend({
  /** The answer (the run's `result.output`); null when the run did not succeed. */
  output: z.unknown(),
  model: z.string().nullable(),
  run: runView,
});

/** Seconds of the `wait` preference of a `Prefer` header (RFC 7240), when it has one. */
export function preferredWait(prefer: string | undefined): number | undefined {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(prefer ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Longest a chat may be waited for: 120 s, and less than the gateway's request timeout. */
function maxWaitMs(config: GatewayConfig): number {
  const t = config.http.requestTimeoutMs;
  return Math.min(120_000, t > 0 ? Math.max(0, t - 1_000) : 120_000);
}

/** Premium chat: a run of the `chat` action, for Pro and Enterprise organizations. */
@Controller('api/brain')
@Access('INTERNAL')
export class BrainController {
  constructor(
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  @ApiRoute({
    summary: 'Premium chat: starts a run of the chat action (and, asked to, waits for its answer)',
    description:
      'Answers 202 with the run at once; with `?wait=true` (30 s) or `Prefer: wait=<seconds>` ' +
      "it waits up to that long (at most 120 s, and less than the gateway's request timeout) and " +
      'answers 200 with the answer (`output`) once the run has ended, with ' +
      '`Preference-Applied: wait=<seconds>`; a run still going then is answered 202 as without it.',
    body: chatBody,
    query: chatQuery,
    idempotent: true,
    success: { status: 202, description: 'the chat run is accepted', schema: runAccepted },
    also: [
      { status: 200, description: 'the chat run ended within the wait', schema: chatAnswered },
    ],
    problems: [400, 402, 409, 413, 415, 422, 503],
  })
  @Idempotent({ replay: 'handler' })
  @RequiresPlan('PRO', 'ENTERPRISE')
  @Post('chat')
  @HttpCode(202)
  async chat(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Query() query: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunAccepted | z.infer<typeof chatAnswered>> {
    const parsed = parseOrThrow(chatBody, body, 'body');
    const q = parseOrThrow(chatQuery, query, 'query');
    const asked = preferredWait(prefer) ?? (q.wait === 'true' ? 30 : undefined);
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
    if (!asked) return accepted;
    const waitMs = Math.min(asked * 1000, maxWaitMs(this.config));
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    const view = await this.runs.awaitEnd(
      accepted.runId,
      principalOf(req).orgId,
      waitMs,
      gone.signal,
    );
    if (!view) return accepted;
    const result = (view.result ?? {}) as { output?: unknown; model?: string | null };
    void reply.status(200).header('Preference-Applied', `wait=${Math.round(waitMs / 1000)}`);
    return {
      ...accepted,
      status: view.status,
      output: result.output ?? null,
      model: result.model ?? null,
      run: view,
    };
  }
}
