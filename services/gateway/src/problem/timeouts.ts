import { type GatewayConfig } from '@heady/config';
import { type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';

/**
 * Fastify's `requestTimeout` (the whole request, headers and body, must arrive in time: a
 * slow-loris client gets a 408 problem+json, see clientErrorHandler) and `connectionTimeout`
 * (a silent socket is closed). Node checks request deadlines every
 * `connectionsCheckingInterval` (30 s by default), so that interval follows the timeout.
 */
export function httpTimeouts(http: GatewayConfig['http']): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'connectionTimeout'
> & {
  http: { headersTimeout?: number; connectionsCheckingInterval: number };
} {
  const req = http.requestTimeoutMs;
  return {
    requestTimeout: req,
    connectionTimeout: http.connectionTimeoutMs,
    http: {
      // Node's own headers deadline (60 s) must not outlast the whole request's
      ...(req > 0 ? { headersTimeout: Math.min(req, 60_000) } : {}),
      connectionsCheckingInterval: req > 0 ? Math.min(30_000, Math.max(100, req / 4)) : 30_000,
    },
  };
}

/**
 * An event stream (`GET …/events`) may be silent between events for longer than
 * `connectionTimeout`: its socket is exempt (the stream closes itself when idle too long).
 */
export function keepEventStreamsOpen(
  req: FastifyRequest,
  _reply: FastifyReply,
  done: () => void,
): void {
  if (req.method === 'GET' && req.routeOptions.url?.endsWith('/events'))
    req.raw.socket.setTimeout(0);
  done();
}
