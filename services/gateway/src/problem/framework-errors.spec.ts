import { type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler } from './framework-errors.js';

/** A socket that records what is written to it. */
function fakeSocket(opts: { headersSent?: boolean } = {}) {
  const out: string[] = [];
  const s = {
    writable: true,
    destroyed: false,
    _httpMessage: opts.headersSent === undefined ? null : { headersSent: opts.headersSent },
    end: (chunk: string) => out.push(chunk),
    destroy: () => {
      s.destroyed = true;
    },
  };
  return { socket: s as unknown as Socket, out, state: s };
}

describe(clientErrorHandler.name, () => {
  it('answers headers over the limit with a 431 problem+json and closes', () => {
    const { socket, out } = fakeSocket();
    clientErrorHandler(
      Object.assign(new Error('overflow'), { code: 'HPE_HEADER_OVERFLOW' }),
      socket,
    );
    expect(out).toHaveLength(1);
    const [head, body] = (out[0] ?? '').split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('Content-Type: application/problem+json');
    expect(head).toContain('Connection: close');
    expect(JSON.parse(body ?? '')).toMatchObject({
      status: 431,
      title: 'Request Header Fields Too Large',
      type: 'urn:heady:problem:headers-too-large',
    });
  });

  it('answers any other parse error with a 400 problem', () => {
    const { socket, out } = fakeSocket({ headersSent: false });
    clientErrorHandler(Object.assign(new Error('bad'), { code: 'HPE_INVALID_METHOD' }), socket);
    expect(out[0]).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('writes nothing into a response already under way, nor on a reset connection', () => {
    const started = fakeSocket({ headersSent: true });
    clientErrorHandler(
      Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD' }),
      started.socket,
    );
    expect(started.out).toEqual([]);
    expect(started.state.destroyed).toBe(true);
    const reset = fakeSocket();
    clientErrorHandler(Object.assign(new Error('x'), { code: 'ECONNRESET' }), reset.socket);
    expect(reset.out).toEqual([]);
  });
});
