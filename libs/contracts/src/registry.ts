import { createRegistry, type DescMessage } from '@bufbuild/protobuf';
import { file_heady_v1_audit } from './gen/heady/v1/audit_pb.js';
import { file_heady_v1_billing } from './gen/heady/v1/billing_pb.js';
import { file_heady_v1_run } from './gen/heady/v1/run_pb.js';
import { file_heady_v1_work } from './gen/heady/v1/work_pb.js';

/** Every message type that may travel on the bus, looked up by full name from the content type. */
export const registry = createRegistry(
  file_heady_v1_run,
  file_heady_v1_audit,
  file_heady_v1_billing,
  file_heady_v1_work,
);

/** `heady.v1.StageCommand` for the StageCommand schema. */
export function typeNameOf(schema: DescMessage): string {
  return schema.typeName;
}

/** The `Content-Type` header value for a protobuf message: `application/protobuf; proto=<type>`. */
export function contentTypeFor(schema: DescMessage): string {
  return `application/protobuf; proto=${schema.typeName}`;
}

/** Splits a content type into media type and (for protobuf) the message type name. */
export function parseContentType(value: string | undefined): { media: string; proto?: string } {
  if (!value) return { media: 'application/octet-stream' };
  const [media = '', ...params] = value.split(';').map((s) => s.trim());
  const proto = params.find((p) => p.startsWith('proto='))?.slice('proto='.length);
  return proto ? { media, proto } : { media };
}
