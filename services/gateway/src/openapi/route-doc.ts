import { applyDecorators } from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  type SchemaObject,
} from '@nestjs/swagger';
import { z } from 'zod';

/** The JSON Schema (OpenAPI 3.0 dialect) of a zod schema: what a request must send (`input`) or what a response holds (`output`). */
export function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
  }) as SchemaObject;
}

/** The problem+json statuses a route can answer besides the ones every /api route can (401, 403, 429, 500). */
export type ProblemStatus = 400 | 402 | 404 | 409 | 413 | 415 | 422 | 502 | 503 | 504;

/** How one route is documented in the OpenAPI document. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** The request body, from the zod schema the handler validates it with. */
  body?: z.ZodType;
  /** Path parameters, from the zod schemas the handler checks them with. */
  params?: Record<string, z.ZodType>;
  /** Query parameters, from the zod object the handler validates the query with. */
  query?: z.ZodObject;
  /** The route honours `Idempotency-Key`. */
  idempotent?: boolean;
  /** The success response: its schema is required unless the status has no content (204). */
  success: Response & ({ status: 204 } | { status: number; schema: z.ZodType | SchemaObject });
  /** Other non-problem responses (a degraded health check's 503, same shape as its 200). */
  also?: (Response & { schema: z.ZodType | SchemaObject })[];
  /** Problem statuses this route can answer (the common ones are added for every /api route). */
  problems?: ProblemStatus[];
}

/** A documented response besides problem+json. */
interface Response {
  status: number;
  description: string;
  schema?: z.ZodType | SchemaObject;
  contentType?: string;
  /** Response headers worth naming (RateLimit and traceparent are on every response). */
  headers?: Record<string, { description: string; schema: SchemaObject }>;
}

function response(r: Response): MethodDecorator {
  const { status, description, schema, contentType = 'application/json', headers } = r;
  const resolved = schema instanceof z.ZodType ? schemaOf(schema, 'output') : schema;
  return ApiResponse({
    status,
    description,
    ...(resolved ? { content: { [contentType]: { schema: resolved } } } : {}),
    ...(headers ? { headers } : {}),
  });
}

const IDEMPOTENCY_KEY_DESCRIPTION =
  'Optional. 1–255 visible ASCII characters. The same key with the same body replays the stored response; ' +
  'with another body 422; while the first request is in flight 409.';

/**
 * Documents a route from the schemas its handler uses: summary, body, query parameters,
 * Idempotency-Key, success response and its problem responses. The access class, plan
 * requirement, security and the common problems are added from the route's metadata when
 * the document is built (see openapi.ts).
 */
export function ApiRoute(doc: RouteDoc): MethodDecorator {
  const decorators: MethodDecorator[] = [
    ApiOperation({
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
    }),
  ];
  if (doc.body) decorators.push(ApiBody({ required: true, schema: schemaOf(doc.body) }));
  for (const [name, schema] of Object.entries(doc.params ?? {}))
    decorators.push(ApiParam({ name, required: true, schema: schemaOf(schema) }));
  if (doc.query) {
    const s = schemaOf(doc.query) as {
      properties?: Record<string, SchemaObject>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(s.properties ?? {}))
      decorators.push(ApiQuery({ name, required: (s.required ?? []).includes(name), schema }));
  }
  if (doc.idempotent)
    decorators.push(
      ApiHeader({
        name: 'Idempotency-Key',
        required: false,
        description: IDEMPOTENCY_KEY_DESCRIPTION,
      }),
    );
  decorators.push(response(doc.success));
  for (const r of doc.also ?? []) decorators.push(response(r));
  for (const p of doc.problems ?? [])
    decorators.push(
      ApiResponse({
        status: p,
        description: PROBLEM_DESCRIPTIONS[p],
        content: {
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      }),
    );
  return applyDecorators(...decorators);
}

export const PROBLEM_DESCRIPTIONS: Record<ProblemStatus | 401 | 403 | 429 | 500, string> = {
  400: 'MALFORMED_BODY: the body is not valid JSON',
  401: 'UNAUTHENTICATED: no API key where one is needed, or not a live key',
  402: "BUDGET_EXHAUSTED: the organization's monthly budget cannot hold the run's estimated cost (the numbers are in the problem)",
  403: 'FORBIDDEN (clearance below the route class, or plan not allowed) or BANNED',
  404: 'not found (an id that names nothing the caller may see)',
  409: 'conflict: IDEMPOTENCY_IN_FLIGHT, or the run has ended',
  413: 'the body is over the size limit',
  415: 'unsupported content type (send application/json)',
  422: 'VALIDATION_FAILED: the body, query or a path parameter does not match the schema (errors[] lists each problem)',
  429: 'RATE_LIMITED: the plan limit is spent; see Retry-After and RateLimit (TOO_MANY_STREAMS on an event stream past the per-key cap)',
  500: 'an unexpected error (it has been logged)',
  502: 'RUN_FAILED: the run behind the answer ended without one (its error is in detail; see Heady-Run-Id)',
  503: 'UNAVAILABLE: a service the route needs does not answer; retry later',
  504: 'ANSWER_TIMEOUT: the run did not answer within the wait; it goes on (see Heady-Run-Id)',
};
