import { type Classification, type Plan, ROLE_CLEARANCE, clears } from '@heady/db';
import { type INestApplication, type Type } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  type OperationObject,
  type PathItemObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { ACCESS_CLASS, REQUIRED_PLANS, routeClass } from '../auth/access.js';
import { PROBLEM_DESCRIPTIONS } from './route-doc.js';

/** The extension naming an operation's access class (PUBLIC < INTERNAL < PROPRIETARY < RESTRICTED). */
export const ACCESS_CLASS_EXTENSION = 'x-heady-access-class';
/** The extension listing the plans an operation is reserved for (absent: every plan). */
export const REQUIRED_PLANS_EXTENSION = 'x-heady-required-plans';

/** Where the gateway serves the browsable document and its JSON. */
export const DOCS_PATH = '/docs';
export const OPENAPI_JSON_PATH = '/openapi.json';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const SECURITY_SCHEME = 'apiKey';

/** RFC 9457 problem details, as every gateway error is rendered. */
const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', example: 'urn:heady:problem:validation-failed' },
    title: { type: 'string', example: 'Unprocessable Content' },
    status: { type: 'integer', example: 422 },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'the request path' },
    code: { type: 'string', example: 'VALIDATION_FAILED' },
    errors: {
      type: 'array',
      description: 'VALIDATION_FAILED: each problem with its path',
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
};

/** The roles whose clearance reaches `cls`. */
function rolesFor(cls: Classification): string[] {
  return Object.entries(ROLE_CLEARANCE)
    .filter(([, c]) => clears(c, cls))
    .map(([r]) => r);
}

function accessText(cls: Classification, plans: readonly Plan[] | undefined, path: string): string {
  const who =
    cls === 'PUBLIC'
      ? path.startsWith('/api')
        ? 'anonymous callers and any API key'
        : 'anyone (ops endpoint, not rate limited)'
      : `an API key whose role clears ${cls} (${rolesFor(cls).join(', ')})`;
  const plan = plans ? ` Plan: ${plans.join(' or ')} only (403 otherwise).` : '';
  return `**Access class ${cls}**: ${who}.${plan}`;
}

/**
 * Adds what the route metadata says to each operation: the access class and plan
 * requirement (as extensions and in the description, read the way the access guard reads
 * them), the bearer security requirement, and the problem responses every /api route can
 * give. Operations are matched to handlers by their operationId (`Controller_method`).
 */
function annotate(doc: OpenAPIObject, controllers: readonly Type[]): void {
  const handlers = new Map<string, { handler: object; controller: Type }>();
  for (const controller of controllers)
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (typeof handler === 'function')
        handlers.set(`${controller.name}_${name}`, { handler, controller });
    }
  const problem = (status: keyof typeof PROBLEM_DESCRIPTIONS) => ({
    description: PROBLEM_DESCRIPTIONS[status],
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  });
  for (const [path, item] of Object.entries<PathItemObject>(doc.paths)) {
    for (const method of METHODS) {
      const op: OperationObject | undefined = item[method];
      if (!op) continue;
      const found = handlers.get(op.operationId ?? '');
      const declared = found
        ? ((Reflect.getMetadata(ACCESS_CLASS, found.handler) ??
            Reflect.getMetadata(ACCESS_CLASS, found.controller)) as Classification | undefined)
        : undefined;
      const plans = found
        ? ((Reflect.getMetadata(REQUIRED_PLANS, found.handler) ??
            Reflect.getMetadata(REQUIRED_PLANS, found.controller)) as Plan[] | undefined)
        : undefined;
      const cls = routeClass(declared, path);
      const ext = op as unknown as Record<string, unknown>;
      ext[ACCESS_CLASS_EXTENSION] = cls;
      if (plans) ext[REQUIRED_PLANS_EXTENSION] = plans;
      op.description = [accessText(cls, plans, path), op.description].filter(Boolean).join('\n\n');
      op.security =
        cls === 'PUBLIC' ? [{}, { [SECURITY_SCHEME]: [] }] : [{ [SECURITY_SCHEME]: [] }];
      // a malformed Authorization header is refused on every route, PUBLIC ones included
      op.responses['401'] ??= problem(401);
      if (path.startsWith('/api')) {
        op.responses['403'] ??= problem(403);
        op.responses['429'] ??= problem(429);
      }
      op.responses['500'] ??= problem(500);
    }
  }
}

/**
 * The gateway's OpenAPI 3 document, generated from the running app: paths, methods and
 * path parameters from the Nest routes, bodies and query parameters from the zod schemas
 * the handlers validate with (`@ApiRoute`), access classes and plans from the route metadata.
 */
export function buildOpenApiDocument(
  app: INestApplication,
  controllers: readonly Type[],
): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Heady gateway')
    .setDescription(
      'The REST door to Heady. Send an API key as `Authorization: Bearer hk_...`. Each operation ' +
        `names its access class in \`${ACCESS_CLASS_EXTENSION}\` (PUBLIC < INTERNAL < PROPRIETARY < RESTRICTED; ` +
        'roles clear viewer PUBLIC, member INTERNAL, developer PROPRIETARY, admin RESTRICTED) and, when ' +
        `reserved for some plans, those in \`${REQUIRED_PLANS_EXTENSION}\`. Every error is ` +
        "`application/problem+json` (RFC 9457). Requests under /api count against the plan's rate limit " +
        '(RateLimit-Policy / RateLimit headers; 429 with Retry-After). Enterprise is not metered: its ' +
        "responses carry neither header (the draft's policy has no value for unlimited).",
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'hk_ API key',
        description: 'An API key: `hk_` and 43 characters',
      },
      SECURITY_SCHEME,
    )
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  doc.components = {
    ...doc.components,
    schemas: { ...doc.components?.schemas, Problem: PROBLEM_SCHEMA },
  };
  annotate(doc, controllers);
  return doc;
}

/** Serves the document: Swagger UI at /docs, the JSON at /openapi.json (outside /api: anonymous, not rate limited, like /healthz). */
export function serveOpenApi(app: INestApplication, doc: OpenAPIObject): void {
  SwaggerModule.setup(DOCS_PATH.slice(1), app, doc, {
    jsonDocumentUrl: OPENAPI_JSON_PATH.slice(1),
    raw: ['json'],
    customSiteTitle: 'Heady gateway API',
  });
}
