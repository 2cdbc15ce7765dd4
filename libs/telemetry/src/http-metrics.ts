import { counter, histogram } from './metrics.js';

const labels = ['method', 'route', 'status'] as const;

/** `heady_http_requests_total{method,route,status}`: HTTP requests answered. */
export const httpRequests = counter(
  'heady_http_requests_total',
  'HTTP requests answered, by method, route template and status code',
  labels,
);

/** `heady_http_request_duration_seconds{method,route,status}`: time from routing to response end. */
export const httpRequestDuration = histogram(
  'heady_http_request_duration_seconds',
  'HTTP request duration in seconds, by method, route template and status code',
  labels,
);

/** Counts one answered request and observes how long it took. */
export function observeHttpRequest(
  method: string,
  route: string,
  status: number,
  seconds: number,
): void {
  const l = { method, route, status: String(status) };
  httpRequests.inc(l);
  httpRequestDuration.observe(l, seconds);
}
