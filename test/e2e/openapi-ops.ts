// The operations of the gateway's OpenAPI document (served at /openapi.json), as the fuzz
// and matrix tests drive them: routes are derived from the document, never listed by hand.

/** A JSON Schema as the document carries it (OpenAPI 3.0 dialect). */
export interface Schema {
  type?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  minLength?: number;
  format?: string;
}

/** One operation of the document. */
export interface Operation {
  method: string;
  /** `/api/runs/{id}` */
  path: string;
  pathParams: string[];
  query: { name: string; required: boolean }[];
  headers: string[];
  body: Schema | undefined;
  accessClass: string;
  requiredPlans: string[] | undefined;
}

interface RawOperation {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  'x-heady-access-class'?: string;
  'x-heady-required-plans'?: string[];
}

/** Fetches the gateway's document and lists its operations. */
export async function operationsOf(base: string): Promise<Operation[]> {
  const res = await fetch(`${base}/openapi.json`);
  if (!res.ok) throw new Error(`GET /openapi.json: ${res.status}`);
  const doc = (await res.json()) as { paths: Record<string, Record<string, RawOperation>> };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, required: !!p.required })),
        headers: params.filter((p) => p.in === 'header').map((p) => p.name),
        body: op.requestBody?.content?.['application/json']?.schema,
        accessClass: op['x-heady-access-class'] ?? 'MISSING',
        requiredPlans: op['x-heady-required-plans'],
      });
    }
  return ops;
}

/** A value that satisfies `schema` in the simplest way (first enum value, shortest array...). */
export function sample(schema: Schema | undefined): unknown {
  if (!schema) return {};
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf?.[0]) return sample(schema.anyOf[0]);
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(
        Object.entries(schema.properties ?? {})
          .filter(([k]) => (schema.required ?? []).includes(k))
          .map(([k, s]) => [k, sample(s)]),
      );
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items));
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'string':
      return schema.format === 'uuid' ? '00000000-0000-4000-8000-000000000000' : 'sample';
    case undefined:
    default:
      return {};
  }
}

/** Fills `{name}` placeholders of a path. */
export function fillPath(path: string, value: (name: string) => string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => value(name));
}
