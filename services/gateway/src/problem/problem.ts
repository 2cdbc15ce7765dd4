import { ErrorCode, isHeadyError, isUnavailable, UnavailableError } from '@heady/contracts';
import { isRemoteError } from '@heady/bus';
import { HttpException } from '@nestjs/common';

/** An RFC 9457 problem details object. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  [extension: string]: unknown;
}

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 422,
  [ErrorCode.MalformedBody]: 400,
  [ErrorCode.UnknownAction]: 422,
  [ErrorCode.IdempotencyConflict]: 422,
  [ErrorCode.RunNotFound]: 404,
  [ErrorCode.InsufficientData]: 409,
  [ErrorCode.RunEnded]: 409,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.ApiKeyNotFound]: 404,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.Banned]: 403,
  [ErrorCode.IdempotencyInFlight]: 409,
  [ErrorCode.TooManyStreams]: 429,
  [ErrorCode.ModelNotFound]: 404,
  [ErrorCode.RunFailed]: 502,
  [ErrorCode.AnswerTimeout]: 504,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.DocumentNotFound]: 404,
  [ErrorCode.WebhookSignatureInvalid]: 400,
  [ErrorCode.BillingCustomerNotFound]: 409,
  [ErrorCode.BudgetExhausted]: 402,
  [ErrorCode.ConsentRequired]: 403,
  [ErrorCode.UserNotFound]: 404,
  [ErrorCode.DeviceNotFound]: 404,
  [ErrorCode.DeviceProofInvalid]: 401,
  [ErrorCode.EnvelopeInvalid]: 422,
  [ErrorCode.SyncConflict]: 409,
};

const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Seconds a client is told to wait (`Retry-After`) when a dependency is unreachable: long
 * enough for a restarted PostgreSQL, Redis or conductor, short enough not to idle a client.
 */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

function slug(code: string): string {
  return code.toLowerCase().replace(/_/g, '-');
}

export function problem(
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem {
  return {
    type: `urn:heady:problem:${slug(code)}`,
    title: TITLE[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

/** Fastify's own errors (body parsing, media type, size) carry a code and a 4xx statusCode. */
function isFastifyClientError(
  e: unknown,
): e is { code: string; statusCode: number; message: string } {
  const x = e as { code?: unknown; statusCode?: unknown };
  return (
    typeof x?.code === 'string' &&
    x.code.startsWith('FST_') &&
    typeof x.statusCode === 'number' &&
    x.statusCode >= 400 &&
    x.statusCode < 500
  );
}

/**
 * Maps anything thrown while serving a request to a problem. Domain errors keep their
 * code; client errors keep their 4xx; a dependency or the bus being unreachable is a 503
 * (an `UnavailableError` with a `retryAfter`); anything else is a 500 whose detail reveals
 * nothing (the log has it).
 */
export function toProblem(e: unknown): Problem {
  if (e instanceof UnavailableError)
    return problem(503, ErrorCode.Unavailable, `${e.dependency} is unavailable; retry later`, {
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
    });
  if (isHeadyError(e) || (isRemoteError(e) && isHeadyError({ code: e.code }))) {
    const err = e as { code: ErrorCode; message: string; details?: Record<string, unknown> };
    return problem(STATUS[err.code], err.code, err.message, err.details ?? {});
  }
  if (isRemoteError(e)) {
    // The bus could not reach the service (no responders, timeout) or it failed unexpectedly.
    const subject = (e.details as { subject?: unknown } | undefined)?.subject;
    const service = typeof subject === 'string' ? subject.split('.')[0] : undefined;
    return problem(
      503,
      ErrorCode.Unavailable,
      `${service ? `the ${service} service` : 'a service'} is unavailable; retry later`,
    );
  }
  if (isFastifyClientError(e)) {
    if (
      e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      e instanceof SyntaxError
    ) {
      return problem(
        400,
        ErrorCode.MalformedBody,
        `the request body is not valid JSON: ${e.message}`,
      );
    }
    return problem(e.statusCode, e.code.replace(/^FST_ERR_/, ''), e.message);
  }
  if (e instanceof SyntaxError)
    return problem(
      400,
      ErrorCode.MalformedBody,
      `the request body is not valid JSON: ${e.message}`,
    );
  if (e instanceof HttpException) {
    // Nest's own (unknown route) and Fastify's (media type, body size) client errors.
    const status = e.getStatus();
    const code = (TITLE[status] ?? `http ${status}`).toUpperCase().replace(/[^A-Z0-9]+/g, '_');
    return problem(status, code, e.message);
  }
  // a client error of an unreachable server that no repository raised typed (a bus publish)
  if (isUnavailable(e))
    return problem(503, ErrorCode.Unavailable, 'a dependency is unavailable; retry later', {
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
    });
  return problem(500, 'internal', 'an unexpected error occurred; it has been logged');
}
