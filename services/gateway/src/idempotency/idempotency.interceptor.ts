import { IdempotencyConflictError, IdempotencyInFlightError } from '@heady/contracts';
import { LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import {
  type CallHandler,
  type ExecutionContext,
  HttpStatus,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { type Observable, catchError, from, mergeMap, of, throwError } from 'rxjs';
import { callerOf } from '../auth/access.js';
import { parseOrThrow } from '../problem/validation.js';
import { idempotencyKey } from '../runs/runs.schema.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { IDEMPOTENT, type IdempotentOptions } from './idempotent.js';
import { fingerprint, seal, sha256, unseal } from './seal.js';

const outcomes = counter(
  'heady_gateway_idempotency_total',
  'Requests with an Idempotency-Key, by outcome (new, replayed, conflict, in_flight, unchecked)',
  ['outcome'],
);

const BEARER = /^Bearer\s+(hk_[A-Za-z0-9_-]{1,200})\s*$/;

/**
 * `Idempotency-Key` on the routes marked {@link Idempotent}: the first request claims the
 * key in Redis (per API key and route) until it finishes; a second one with the key gets
 * 409 while it is in flight, 422 when its body differs, and once the first has succeeded
 * the stored response (status and body) again. A failed request releases its claim, so
 * the client may retry with the same key. When Redis does not answer the request goes
 * through unchecked (logged and counted), as rate limits do.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(IdempotencyRepository) private readonly repo: IdempotencyRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async intercept(ctx: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const opts = this.reflector.get<IdempotentOptions | undefined>(IDEMPOTENT, ctx.getHandler());
    if (!opts || ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const raw = req.headers['idempotency-key'];
    if (raw === undefined) return next.handle();
    const key = parseOrThrow(idempotencyKey, raw, 'Idempotency-Key');
    const principal = callerOf(req).principal;
    const apiKey = BEARER.exec(req.headers.authorization ?? '')?.[1];
    // every idempotent route needs an API key; without one the guard has refused already
    if (!principal || !apiKey) return next.handle();

    const route = `${req.method} ${req.routeOptions.url ?? req.url}`;
    const redisKey = this.repo.key(principal.keyId, route, sha256(key));
    const fp = fingerprint(req.body);
    const token = randomUUID();
    let held;
    try {
      held = await this.repo.claim(redisKey, { state: 'pending', fingerprint: fp, token });
    } catch (err) {
      outcomes.inc({ outcome: 'unchecked' });
      this.log.warn({ err, route }, 'Idempotency-Key not checked: redis did not answer');
      return next.handle();
    }

    if (held) {
      if (held.fingerprint !== fp) {
        outcomes.inc({ outcome: 'conflict' });
        throw new IdempotencyConflictError(key);
      }
      if (held.state === 'pending') {
        outcomes.inc({ outcome: 'in_flight' });
        throw new IdempotencyInFlightError(key);
      }
      if (opts.replay === 'gateway') {
        outcomes.inc({ outcome: 'replayed' });
        const reply = ctx.switchToHttp().getResponse<FastifyReply>();
        void reply.status(held.status).header('idempotent-replayed', 'true');
        let body: unknown;
        try {
          body = unseal(held.sealed, apiKey, key);
        } catch (err) {
          // only a tampered entry gets here: the key stays used, the response is not replayable
          this.log.warn({ err, route }, 'a stored Idempotency-Key response does not open');
          throw new IdempotencyConflictError(key);
        }
        return of(body);
      }
    }

    outcomes.inc({ outcome: 'new' });
    const status =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, ctx.getHandler()) ??
      HttpStatus.CREATED;
    return next.handle().pipe(
      mergeMap((body: unknown) =>
        from(
          (opts.replay === 'gateway'
            ? this.repo.complete(redisKey, token, {
                state: 'done',
                fingerprint: fp,
                status,
                sealed: seal(body, apiKey, key),
              })
            : this.repo.release(redisKey, token)
          ).then(
            () => body,
            (err: unknown) => {
              this.log.warn({ err, route }, 'could not settle an Idempotency-Key');
              return body;
            },
          ),
        ),
      ),
      catchError((err: unknown) =>
        from(
          this.repo.release(redisKey, token).catch((e: unknown) => {
            // the claim expires after HEADY_IDEMPOTENCY_LOCK_MS anyway
            this.log.warn({ err: e, route }, 'could not release an Idempotency-Key');
          }),
        ).pipe(mergeMap(() => throwError(() => err))),
      ),
    );
  }
}
