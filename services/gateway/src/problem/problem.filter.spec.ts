import { type ArgumentsHost } from '@nestjs/common';
import { UnavailableError } from '@heady/contracts';
import { type Logger } from '@heady/telemetry';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_RETRY_AFTER_S } from './problem.js';
import { ProblemFilter } from './problem.filter.js';

/** A reply that records what the filter writes, and a host that hands it to the filter. */
function respond(exception: unknown) {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown } = {
    headers: {},
  };
  const reply = {
    status(code: number) {
      sent.status = code;
      return reply;
    },
    header(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const req = { url: '/api/runs/00000000-0000-4000-8000-000000000001' } as FastifyRequest;
  const host = {
    switchToHttp: () => ({
      getRequest: () => req,
      getResponse: () => reply as unknown as FastifyReply,
    }),
  } as unknown as ArgumentsHost;
  const logged: unknown[] = [];
  const log = { error: (o: unknown) => logged.push(o) } as unknown as Logger;
  new ProblemFilter(log).catch(exception, host);
  return { sent, logged };
}

describe(ProblemFilter.name, () => {
  it('answers an UnavailableError with 503 problem+json and Retry-After', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const { sent, logged } = respond(new UnavailableError('postgres', { cause }));
    expect(sent.status).toBe(503);
    expect(sent.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(sent.headers['retry-after']).toBe(String(UNAVAILABLE_RETRY_AFTER_S));
    expect(sent.body).toEqual({
      type: 'urn:heady:problem:unavailable',
      title: 'Service Unavailable',
      status: 503,
      code: 'UNAVAILABLE',
      detail: 'postgres is unavailable; retry later',
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
      instance: '/api/runs/00000000-0000-4000-8000-000000000001',
    });
    // the client is told nothing of the cause; the log has it
    expect(JSON.stringify(sent.body)).not.toMatch(/5432/);
    expect(logged).toHaveLength(1);
  });

  it('adds no Retry-After to an unexpected error (a 500)', () => {
    const { sent } = respond(new Error('boom'));
    expect(sent.status).toBe(500);
    expect(sent.headers['retry-after']).toBeUndefined();
  });
});
