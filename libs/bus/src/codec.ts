import { type DescMessage, type Message, fromBinary, toBinary } from '@bufbuild/protobuf';
import { contentTypeFor, parseContentType, registry } from '@heady/contracts';
import { DecodeError } from './errors.js';

/** What can be sent: a protobuf-es message with its schema, or any JSON value. */
export type Payload =
  | { schema: DescMessage; message: Message }
  | { json: unknown }
  /** Bytes already encoded, with their Content-Type (a stored message re-published as it was). */
  | { raw: Uint8Array; contentType: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a payload; returns the bytes and their `Content-Type`:
 * `application/protobuf; proto=<typeName>` (binary protobuf) or `application/json`.
 */
export function encode(p: Payload): { data: Uint8Array; contentType: string } {
  if ('schema' in p)
    return { data: toBinary(p.schema, p.message), contentType: contentTypeFor(p.schema) };
  if ('raw' in p) return { data: p.raw, contentType: p.contentType };
  return { data: encoder.encode(JSON.stringify(p.json ?? null)), contentType: 'application/json' };
}

/** Encodes what a handler returned: a protobuf-es message (it names its type) or JSON. */
export function encodeValue(v: unknown): { data: Uint8Array; contentType: string } {
  return encode(payloadOf(v));
}

/**
 * The payload for a plain value: a registered protobuf-es message (it names its type in
 * `$typeName`) is sent as protobuf, anything else as JSON.
 */
export function payloadOf(v: unknown): Payload {
  const typeName = (v as { $typeName?: unknown } | null)?.$typeName;
  if (typeof typeName === 'string') {
    const schema = registry.getMessage(typeName);
    if (schema) return { schema, message: v as Message };
  }
  return { json: v === undefined ? null : v };
}

/**
 * Decodes bytes by their `Content-Type` (protobuf types looked up in the contracts
 * registry, or `expected`). @throws DecodeError (a PermanentError: the message is poison)
 * for an unknown type or media, a type other than `expected`, or undecodable bytes.
 */
export function decode(
  contentType: string | undefined,
  data: Uint8Array,
  expected?: DescMessage,
): unknown {
  const { media, proto } = parseContentType(contentType);
  try {
    if (media === 'application/protobuf') {
      const schema = expected ?? (proto ? registry.getMessage(proto) : undefined);
      if (!schema)
        throw new DecodeError(`unknown protobuf message type ${proto ?? '(none named)'}`);
      if (proto && schema.typeName !== proto)
        throw new DecodeError(`expected ${schema.typeName}, got ${proto}`);
      return fromBinary(schema, data);
    }
    if (media === 'application/json')
      return data.length ? (JSON.parse(decoder.decode(data)) as unknown) : null;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`cannot decode ${media} payload: ${(e as Error).message}`, { cause: e });
  }
  throw new DecodeError(`unsupported content type ${contentType ?? '(none)'}`);
}
