import { LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { type Problem, toProblem } from './problem.js';

/** Renders every error under the gateway as `application/problem+json` (RFC 9457). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    send(this.log, exception, req, reply);
  }
}

/** Writes the problem for `exception`; also used as Fastify's error handler for errors raised before Nest routes. */
export function send(
  log: Logger,
  exception: unknown,
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  const p: Problem = { ...toProblem(exception), instance: req.url };
  // OpenAI's clients show `error.message`: the /v1 routes carry their error shape too
  if (req.url.startsWith('/v1/')) p['error'] = openAiError(p);
  if (p.status >= 500) log.error({ err: exception, url: req.url }, 'request failed');
  const retryAfter = p['retryAfter'];
  if (
    (p.status === 429 || p.status === 503 || p.code === 'BANNED') &&
    typeof retryAfter === 'number'
  )
    void reply.header('retry-after', String(retryAfter));
  if (p.status === 401) void reply.header('www-authenticate', 'Bearer realm="heady"');
  void reply
    .status(p.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send(p);
}

/** OpenAI's `error` object for a problem (`type` by status, as OpenAI's API names them). */
export function openAiError(p: Problem): {
  message: string;
  type: string;
  code: string;
  param: null;
} {
  const type =
    p.status === 401
      ? 'authentication_error'
      : p.status === 403
        ? 'permission_error'
        : p.status === 404
          ? 'not_found_error'
          : p.status === 429
            ? 'rate_limit_error'
            : p.status >= 500
              ? 'server_error'
              : 'invalid_request_error';
  return { message: p.detail, type, code: p.code.toLowerCase(), param: null };
}
