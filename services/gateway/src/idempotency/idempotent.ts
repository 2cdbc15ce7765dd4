import { SetMetadata } from '@nestjs/common';

/** Metadata key of {@link Idempotent}. */
export const IDEMPOTENT = 'heady:idempotent';

/** How a route honours `Idempotency-Key`. */
export interface IdempotentOptions {
  /**
   * `gateway` (default): the first response is stored (encrypted) and replayed for the
   * same key and body. `handler`: the handler is idempotent on its own, durably (runs:
   * the key is claimed in PostgreSQL, released when the run is compensated); the gateway
   * only refuses a second request with the key while the first is in flight.
   */
  replay?: 'gateway' | 'handler';
}

/**
 * Marks a creating POST as honouring `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header):
 * the same key and body give the same response, another body 422, a request while the first
 * with the key is still in flight 409. Keys are scoped to the caller's API key and the route.
 */
export const Idempotent = (opts: IdempotentOptions = {}): MethodDecorator =>
  SetMetadata(IDEMPOTENT, { replay: opts.replay ?? 'gateway' } satisfies IdempotentOptions);
