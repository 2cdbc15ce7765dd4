import { describe, expect, it } from 'vitest';
import { redact, retryAfterMs, sseData } from './call.js';

function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      c.close();
    },
  });
}

describe('retryAfterMs', () => {
  it('reads Retry-After in seconds, as an HTTP date, and retry-after-ms first', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }), now)).toBe(
      10_000,
    );
    expect(retryAfterMs(new Headers({ 'retry-after': '3', 'retry-after-ms': '250' }))).toBe(250);
  });

  it('is undefined when there is no readable header', () => {
    expect(retryAfterMs(new Headers())).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

describe('sseData', () => {
  it('yields each event data, however the bytes are split', async () => {
    const out: string[] = [];
    for await (const d of sseData(
      body('data: {"a"', ':1}\n\nev', 'ent: x\ndata: two\r\n\r\n: c\n\ndata: [DONE]\n\n'),
    ))
      out.push(d);
    expect(out).toEqual(['{"a":1}', 'two', '[DONE]']);
  });
});

describe('redact', () => {
  it('removes every occurrence of each secret', () => {
    expect(redact('key sk-1 and sk-1 again', ['sk-1', undefined])).toBe(
      'key [redacted] and [redacted] again',
    );
  });
});
