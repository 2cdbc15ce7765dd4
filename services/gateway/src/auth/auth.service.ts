import { type Classification, type Plan, ROLE_CLEARANCE, clears, hashApiKey } from '@heady/db';
import { ForbiddenError, UnauthenticatedError } from '@heady/contracts';
import { type GatewayConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { AccessAuditRepository } from './access-audit.repository.js';
import { type Caller } from './access.js';
import { TiersService } from '../tiers/tiers.service.js';
import { AuthRepository } from './auth.repository.js';
import { ApiKeyCache } from './api-key-cache.js';
import { ApiKeyChangesRepository } from './api-key-changes.repository.js';

const BEARER = /^Bearer\s+(hk_[A-Za-z0-9_-]{1,200})\s*$/;
/** last_used_at is written at most this often per key, so a busy key costs no write per request. */
const TOUCH_EVERY_MS = 60_000;

const lookups = counter(
  'heady_gateway_api_key_lookups_total',
  'API key lookups by where they were answered (cache: in process; db: PostgreSQL)',
  ['source'],
);

/**
 * What runs around a key lookup that has to ask PostgreSQL: `before` may refuse the request
 * first (a banned address, one that has used up its failed attempts), so such requests cost
 * no query; `failed` is told of a key that turned out unknown or revoked.
 */
export interface LookupGate {
  before(): Promise<void>;
  failed(): Promise<void>;
}

/** Authenticates `Authorization: Bearer hk_...` and decides access by clearance. */
@Injectable()
export class AuthService {
  private readonly cache: ApiKeyCache;

  constructor(
    @Inject(AuthRepository) private readonly keys: AuthRepository,
    @Inject(AccessAuditRepository) private readonly audit: AccessAuditRepository,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(TiersService) private readonly tiers: TiersService,
    @Inject(ApiKeyChangesRepository) changes: ApiKeyChangesRepository,
    @Inject(CONFIG) config: GatewayConfig,
  ) {
    const cache = new ApiKeyCache(config.apiKeys.cacheMs);
    changes.subscribe({
      key: (hash) => cache.evictKey(hash),
      org: (orgId) => cache.evictOrg(orgId),
      live: (up) => cache.setLive(up),
    });
    this.cache = cache;
  }

  /** Drops a key (by hash) this process may have cached, e.g. one it has just revoked. */
  forget(keyHash: string): void {
    this.cache.evictKey(keyHash);
  }

  /**
   * The caller behind the Authorization header: anonymous when there is none; 401 when it is
   * not a live key. A key not in the in-process cache passes `gate` before PostgreSQL is asked.
   */
  async authenticate(authorization: string | undefined, gate?: LookupGate): Promise<Caller> {
    if (authorization === undefined || authorization === '')
      return { principal: undefined, clearance: 'PUBLIC' };
    const m = BEARER.exec(authorization);
    if (!m?.[1])
      throw new UnauthenticatedError(
        'the Authorization header must be "Bearer hk_..." (an API key)',
      );
    const hash = hashApiKey(m[1]);
    let principal = this.cache.get(hash);
    if (principal) lookups.inc({ source: 'cache' });
    else {
      await gate?.before();
      lookups.inc({ source: 'db' });
      const since = this.cache.begin();
      principal = await this.keys.findActive(hash);
      if (principal) this.cache.set(hash, principal, since);
      else await gate?.failed();
    }
    if (!principal) throw new UnauthenticatedError('unknown or revoked API key');
    if (!principal.lastUsedAt || Date.now() - principal.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      this.cache.touched(hash, new Date());
      this.keys
        .touch(principal.keyId)
        .catch((e: unknown) => this.log.warn({ err: e }, 'could not record API key use'));
    }
    // the plan in force is the tier cache's (a billing change replaces it at once)
    const plan = await this.tiers.planOf(principal.orgId, principal.plan);
    return { principal: { ...principal, plan }, clearance: ROLE_CLEARANCE[principal.role] };
  }

  /** Throws 401/403 when `caller` may not use a route of class `need`; audits INTERNAL-and-higher decisions. */
  authorize(caller: Caller, need: Classification, route: string): void {
    const allowed = clears(caller.clearance, need) && (need === 'PUBLIC' || !!caller.principal);
    const reason = allowed
      ? 'clearance suffices'
      : caller.principal
        ? `clearance ${caller.clearance} is below ${need}`
        : 'no API key';
    if (need !== 'PUBLIC')
      this.audit
        .publish({
          actor: caller.principal ? `api-key:${caller.principal.keyId}` : 'anonymous',
          route,
          routeClass: need,
          clearance: caller.clearance,
          allowed,
          reason,
        })
        .catch((e: unknown) =>
          this.log.warn({ err: e, route }, 'could not audit an access decision'),
        );
    if (allowed) return;
    if (!caller.principal)
      throw new UnauthenticatedError(`${route} needs an API key (Authorization: Bearer hk_...)`);
    throw new ForbiddenError(`${route} needs clearance ${need}; this key has ${caller.clearance}`, {
      required: need,
      clearance: caller.clearance,
    });
  }

  /** Throws 403 (naming the first plan that would do) unless the caller's organization is on one of `plans`. */
  requirePlan(caller: Caller, plans: readonly Plan[], route: string): void {
    const plan = caller.principal?.plan;
    if (plan && plans.includes(plan)) return;
    const names = plans.map((p) => p.charAt(0) + p.slice(1).toLowerCase());
    throw new ForbiddenError(
      `${route} needs the ${names.join(' or ')} plan; this organization is on ${plan ?? 'no plan'}`,
      { requiredPlan: plans[0] ?? null, plan: plan ?? null },
    );
  }
}
