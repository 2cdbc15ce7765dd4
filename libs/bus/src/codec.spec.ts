import { create } from '@bufbuild/protobuf';
import { StageCommandSchema, StartRunReplySchema } from '@heady/contracts';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeValue } from './codec.js';
import { DecodeError, isPermanentError } from './errors.js';

describe('codec', () => {
  it('round-trips a protobuf message by the type named in its content type', () => {
    const msg = create(StageCommandSchema, {
      runId: 'r',
      stage: 'plan',
      seed: 42n,
      slip: { itinerary: ['a', 'b'], completed: ['a'] },
    });
    const { data, contentType } = encode({ schema: StageCommandSchema, message: msg });
    expect(contentType).toBe('application/protobuf; proto=heady.v1.StageCommand');
    expect(decode(contentType, data)).toEqual(msg);
  });

  it('round-trips JSON', () => {
    const { data, contentType } = encode({ json: { a: [1, 'x'] } });
    expect(decode(contentType, data)).toEqual({ a: [1, 'x'] });
  });

  it('encodes a returned protobuf message by its own type name', () => {
    const reply = create(StartRunReplySchema, { runId: 'r', group: 'g' });
    const { contentType, data } = encodeValue(reply);
    expect(contentType).toMatch(/proto=heady.v1.StartRunReply/);
    expect(decode(contentType, data, StartRunReplySchema)).toEqual(reply);
  });

  it('treats unknown types, corrupt bytes and unknown media as permanent decode errors', () => {
    const bad = [
      () => decode('application/protobuf; proto=heady.v1.Nope', new Uint8Array([1])),
      () =>
        decode(
          'application/protobuf; proto=heady.v1.StageCommand',
          new Uint8Array([0xff, 0xff, 0xff]),
        ),
      () => decode('application/json', new TextEncoder().encode('{nope')),
      () => decode('text/plain', new Uint8Array()),
      () => decode(undefined, new Uint8Array()),
    ];
    for (const f of bad) {
      const e = (() => {
        try {
          f();
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(DecodeError);
      expect(isPermanentError(e)).toBe(true);
    }
  });
});
