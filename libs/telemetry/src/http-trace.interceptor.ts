import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapSetter,
  propagation,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { finished } from 'node:stream';
import { Observable, tap } from 'rxjs';
import { observeHttpRequest } from './http-metrics.js';
import { TRACER_NAME } from './tracing.js';
import { UNTRACED } from './untraced.js';

/** Status label for a response the client abandoned before it was sent (nginx's convention). */
const CLIENT_CLOSED = 499;

const traceparent = new W3CTraceContextPropagator();

/** Sets `traceparent` (and `tracestate`) on the response so a client can find its trace. */
function answerWithTrace(reply: FastifyReply, active: Context): void {
  const carrier: Record<string, string> = {};
  traceparent.inject(active, carrier, defaultTextMapSetter);
  for (const [name, value] of Object.entries(carrier)) void reply.header(name, value);
}

function startServerSpan(req: FastifyRequest, route: string, parent: Context): Span {
  return trace.getTracer(TRACER_NAME).startSpan(
    `${req.method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: req.method,
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_URL_PATH]: req.url.split('?', 1)[0],
        [ATTR_URL_SCHEME]: req.protocol,
        ...(req.headers['user-agent']
          ? { [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'] }
          : {}),
      },
    },
    parent,
  );
}

/**
 * Serves each HTTP request (Fastify adapter) inside a SERVER span named
 * `<METHOD> <route>` that continues the caller's W3C `traceparent`, keeps that span
 * active for the controller and everything it awaits, and answers with a `traceparent`
 * header naming the trace. When the response has been written it records the final
 * status (after exception filters ran, so a domain error mapped to 404 counts as 404),
 * marks 5xx as errors with the exception, ends the span and observes
 * `heady_http_requests_total` / `heady_http_request_duration_seconds`. Requests
 * rejected before interceptors run (guards, 404 routing) are not seen here.
 * Install with `app.useGlobalInterceptors(new HttpTraceInterceptor())`.
 */
@Injectable()
export class HttpTraceInterceptor implements NestInterceptor {
  /** Wraps one request; non-HTTP contexts and {@link Untraced} handlers pass straight through. */
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http' || isUntraced(ctx)) return next.handle();
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const route = req.routeOptions.url ?? 'unmatched';
    const parent = propagation.extract(context.active(), req.headers);
    const span = startServerSpan(req, route, parent);
    const active = trace.setSpan(parent, span);
    answerWithTrace(reply, active);

    const started = performance.now();
    let failure: unknown;
    finished(reply.raw, (err) => {
      const status = err ? CLIENT_CLOSED : reply.statusCode;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 500) {
        if (failure !== undefined) span.recordException(asException(failure));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
      observeHttpRequest(req.method, route, status, (performance.now() - started) / 1000);
    });

    const recordFailure = tap({
      error: (err: unknown) => {
        failure = err;
      },
    });
    // Nest binds the handler to the async context in which handle() is called
    // (AsyncResource.bind), so handle() itself must run inside the span's context.
    return new Observable((sub) =>
      context.with(active, () => next.handle().pipe(recordFailure).subscribe(sub)),
    );
  }
}

const reflector = new Reflector();

function isUntraced(ctx: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean | undefined>(UNTRACED, [
      ctx.getHandler(),
      ctx.getClass(),
    ]) === true
  );
}

function asException(err: unknown): Error | string {
  return err instanceof Error ? err : String(err);
}
