import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { counter, histogram } from './metrics.js';

const requests = counter('heady_http_requests_total', 'HTTP requests served', [
  'method',
  'route',
  'status',
]);
const duration = histogram('heady_http_request_duration_seconds', 'HTTP request duration', [
  'method',
  'route',
  'status',
]);

/**
 * Serves each HTTP request inside a SERVER span that continues the caller's
 * `traceparent`, keeps it active for the controller and everything it awaits, records
 * the outcome and the HTTP metrics, and answers with a `traceparent` header naming the trace.
 */
@Injectable()
export class HttpTraceInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const route = req.routeOptions?.url ?? req.url;
    const parent = propagation.extract(context.active(), req.headers);
    const span = trace.getTracer('@heady/telemetry').startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'http.route': route,
          'url.path': req.url,
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const sc = span.spanContext();
    void reply.header(
      'traceparent',
      `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags.toString(16)}`,
    );
    const started = performance.now();
    const finish = (status: number, err?: unknown): void => {
      span.setAttribute('http.response.status_code', status);
      if (err) span.recordException(err as Error);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const labels = { method: req.method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, (performance.now() - started) / 1000);
    };
    return new Observable((sub) =>
      context.with(active, () =>
        next.handle().subscribe({
          next: (v) => sub.next(v),
          error: (err: unknown) => {
            const status = (err as { getStatus?: () => number }).getStatus?.() ?? 500;
            finish(status, status >= 500 ? err : undefined);
            sub.error(err);
          },
          complete: () => {
            finish(reply.statusCode);
            sub.complete();
          },
        }),
      ),
    );
  }
}
