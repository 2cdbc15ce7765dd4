import { ErrorCode, HeadyError } from '@heady/contracts';
import { type FastifyInstance, type FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import { bodyDigest } from '@heady/device-client';

/** The one route whose JSON body reaches its handler unparsed (billing's webhook). */
export const RAW_JSON_ROUTE = '/api/billing/webhook';

/**
 * The gateway's `application/json` parser. Fastify's own error for a bad body reaches
 * Nest as a bare HttpException; raising the domain error instead keeps the problem's
 * code (`MALFORMED_BODY`). `secure-json-parse` refuses `__proto__`/`constructor` keys.
 */
export function jsonBodyParser(
  req: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  // a Stripe webhook is verified over its bytes as sent: its handler gets the raw text
  if (req.routeOptions.url === RAW_JSON_ROUTE) {
    done(null, text);
    return;
  }
  if (text.trim() === '') {
    done(
      new HeadyError(
        ErrorCode.MalformedBody,
        'the request body is empty but content-type is application/json',
      ),
    );
    return;
  }
  // what a device's proof of possession covers: the body's bytes as received
  (req as { bodySha256?: string }).bodySha256 = bodyDigest(text);
  try {
    done(null, sjson.parse(text));
  } catch (e) {
    done(
      new HeadyError(
        ErrorCode.MalformedBody,
        `the request body is not valid JSON: ${(e as Error).message}`,
      ),
    );
  }
}

/**
 * Makes JSON the only body the gateway parses: Fastify's built-in `text/plain` parser goes
 * (a text body then answers 415 like every other media type, instead of reaching a
 * handler's schema as a string and answering 422), and `application/json` is read by
 * {@link jsonBodyParser}.
 */
export function acceptJsonOnly(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser);
}
