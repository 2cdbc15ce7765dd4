import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type z } from 'zod';
import { Access, matchedRoute, principalOf } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import {
  chatCompletion,
  chatCompletionBody,
  embeddingList,
  embeddingsBody,
  modelList,
} from './openai.schema.js';
import { OpenAiService, RUN_ID_HEADER } from './openai.service.js';

const RUN_HEADER = {
  [RUN_ID_HEADER]: { description: 'the run that answered', schema: { type: 'string' as const } },
};

/**
 * OpenAI's API (`/v1`), for the clients that already speak it: chat completions (streamed
 * or not), embeddings and models. Authenticated with `hk_` keys as Bearer tokens, under the
 * same plans, limits and audit as `/api`; errors are problem+json with OpenAI's `error`
 * object inside. Every answer is a run, named by the `Heady-Run-Id` header.
 */
@Controller('v1')
@Access('INTERNAL')
export class OpenAiController {
  constructor(@Inject(OpenAiService) private readonly openai: OpenAiService) {}

  @ApiRoute({
    summary: "OpenAI chat completions: a run of the model's group, answered (or streamed) here",
    description:
      '`model` is `heady` (the group that serves `chat`) or `heady-<group>` (GET /v1/models). ' +
      "`stream: true` answers `text/event-stream` in OpenAI's chunk format, relaying the " +
      "tokens as the provider writes them; otherwise the run's answer once it ends (502 " +
      'RUN_FAILED when it ends without one, 504 ANSWER_TIMEOUT past the request timeout).',
    body: chatCompletionBody,
    success: {
      status: 200,
      description: 'the completion (or, with stream, its chunks)',
      schema: chatCompletion,
      headers: RUN_HEADER,
    },
    problems: [400, 404, 413, 415, 422, 502, 503, 504],
  })
  @Post('chat/completions')
  @HttpCode(200)
  async chat(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<z.infer<typeof chatCompletion> | undefined> {
    const parsed = parseOrThrow(chatCompletionBody, body, 'body');
    const by = { principal: principalOf(req), route: matchedRoute(req) };
    if (parsed.stream) {
      reply.hijack();
      await this.openai.stream(parsed, by, reply.raw);
      return undefined;
    }
    return this.openai.complete(parsed, by, (runId) => void reply.header(RUN_ID_HEADER, runId));
  }

  @ApiRoute({
    summary: "OpenAI embeddings: vectors of the input from the model's group",
    description: '`model` is `heady` (the group that serves `embed`) or `heady-<group>`.',
    body: embeddingsBody,
    success: {
      status: 200,
      description: 'the vectors',
      schema: embeddingList,
      headers: RUN_HEADER,
    },
    problems: [400, 404, 413, 415, 422, 502, 503, 504],
  })
  @Post('embeddings')
  @HttpCode(200)
  embeddings(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<z.infer<typeof embeddingList>> {
    const parsed = parseOrThrow(embeddingsBody, body, 'body');
    const by = { principal: principalOf(req), route: matchedRoute(req) };
    return this.openai.embeddings(parsed, by, (runId) => void reply.header(RUN_ID_HEADER, runId));
  }

  @ApiRoute({
    summary: 'OpenAI models: `heady` and one `heady-<group>` per service group',
    success: { status: 200, description: 'the models', schema: modelList },
    problems: [503],
  })
  @Get('models')
  models(): Promise<z.infer<typeof modelList>> {
    return this.openai.list();
  }
}
