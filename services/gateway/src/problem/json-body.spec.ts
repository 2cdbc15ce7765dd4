import { ErrorCode, HeadyError } from '@heady/contracts';
import { type FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { RAW_JSON_ROUTE, jsonBodyParser } from './json-body.js';

function parse(body: string, url = '/api/runs'): { err: Error | null; value?: unknown } {
  let out: { err: Error | null; value?: unknown } = { err: null };
  const req = { routeOptions: { url } } as FastifyRequest;
  jsonBodyParser(req, body, (err, value) => (out = { err, value }));
  return out;
}

describe('jsonBodyParser', () => {
  it('parses JSON', () => {
    expect(parse('{"a":[1]}')).toEqual({ err: null, value: { a: [1] } });
  });
  it.each(['', '  ', '{"a":', 'nope', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'])(
    'refuses %j as a malformed body',
    (body) => {
      const { err } = parse(body);
      expect(err).toBeInstanceOf(HeadyError);
      expect((err as HeadyError).code).toBe(ErrorCode.MalformedBody);
    },
  );
  it("hands the webhook route its body unparsed, as Stripe's signature covers it", () => {
    const raw = '{ "id": "evt_1",  "type": "x" }';
    expect(parse(raw, RAW_JSON_ROUTE)).toEqual({ err: null, value: raw });
  });
});
