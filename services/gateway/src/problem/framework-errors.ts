import { type Logger } from '@heady/telemetry';
import { type FastifyServerOptions } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { type Socket } from 'node:net';
import { problem } from './problem.js';
import { send } from './problem.filter.js';

/** Longest path parameter the router accepts (a memory session id may be 200 characters). */
export const MAX_PARAM_LENGTH = 512;

/**
 * Renders what Node's HTTP parser refuses before Fastify sees a request (headers too large,
 * a malformed request line, a client timeout) as problem+json, like every other error of
 * the gateway; Fastify's default answers these with a JSON body of its own shape.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'the request line and headers are over the size limit']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
  const body = JSON.stringify(problem(status, code, detail));
  // a kept-alive socket has written earlier responses: only one half-written now is lost
  // (the check Node's own default makes)
  const current = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (!socket.writable || current?.headersSent) {
    socket.destroy(err);
    return;
  }
  // end, not destroy: a client still sending its body reads the answer before the close
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // never linger on a peer that does not close its side
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/**
 * The Fastify options that keep errors raised before any route (a URL that does not
 * decode, a path parameter over the limit) in problem+json.
 */
export function frameworkErrorOptions(
  log: Logger,
): Pick<FastifyServerOptions, 'clientErrorHandler' | 'frameworkErrors' | 'maxParamLength'> {
  return {
    clientErrorHandler,
    frameworkErrors: (error, req, reply) => send(log, error, req, reply),
    maxParamLength: MAX_PARAM_LENGTH,
  };
}
