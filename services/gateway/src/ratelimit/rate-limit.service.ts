import { type GatewayConfig } from '@heady/config';
import { BannedError, RateLimitedError } from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { type BlockList } from 'node:net';
import { type Caller } from '../auth/access.js';
import { type ClientAddress, cidrSet, clientIp, resolveClient } from './client-ip.js';
import { LocalLimiter } from './local-limiter.js';
import { BanAuditRepository } from './ban-audit.repository.js';
import { type BanHit, RateLimitRepository, type WindowHit } from './rate-limit.repository.js';

const fallbacks = counter(
  'heady_gateway_ratelimit_fallback_total',
  'Rate-limit decisions taken by the per-process fallback because Redis did not answer',
);
const decisions = counter('heady_gateway_ratelimit_decisions_total', 'Rate-limit decisions', [
  'outcome',
  'source',
]);

const bansTotal = counter(
  'heady_gateway_bans_total',
  'Callers banned for sending on after their 429s, by kind (ip, org)',
  ['kind'],
);
const banChecksSkipped = counter(
  'heady_gateway_ban_checks_skipped_total',
  'Requests admitted without a ban check because Redis did not answer (bans fail open)',
);

/** What the guard knows of the request besides the caller: for a ban's evidence. */
export interface RequestFacts {
  /** `METHOD /route/:pattern` */
  route: string;
  /** First 11 characters of the API key, when there is one. */
  keyPrefix?: string;
}

/** Headers to set on the response (IETF draft-ietf-httpapi-ratelimit-headers). */
export type RateHeaders = Record<string, string>;

/**
 * Per-organization (by plan) and per-client-IP (anonymous) sliding windows, shared
 * through Redis; the internal mesh is exempt, unlimited plans are not counted.
 */
@Injectable()
export class RateLimitService {
  private readonly trusted: BlockList;
  private readonly mesh: BlockList;
  private readonly local = new LocalLimiter();

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(RateLimitRepository) private readonly redis: RateLimitRepository,
    @Inject(BanAuditRepository) private readonly audit: BanAuditRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.trusted = cidrSet(config.rateLimit.trustedProxies);
    this.mesh = cidrSet(config.rateLimit.meshCidrs);
  }

  /** The client address, honouring X-Forwarded-For only from trusted proxies. */
  clientIp(peer: string | undefined, xff: string | string[] | undefined): string {
    return clientIp(peer, xff, this.trusted);
  }

  /** The client address and whether it really comes from the mesh (see {@link resolveClient}). */
  client(peer: string | undefined, xff: string | string[] | undefined): ClientAddress {
    return resolveClient(peer, xff, this.trusted, this.mesh);
  }

  /**
   * Refuses a banned caller (403 BANNED), counts the request, and returns the headers to
   * send, or throws RATE_LIMITED (429) with them in `headers`. A caller that keeps
   * sending after its 429s is banned here (see sliding-window.lua.ts).
   */
  async admit(caller: Caller, client: ClientAddress, facts: RequestFacts): Promise<RateHeaders> {
    if (client.mesh) return {};
    const { ip } = client;
    const rl = this.config.rateLimit;
    const p = caller.principal;
    const policy = p ? p.plan.toLowerCase() : 'anonymous';
    const limit = p ? rl.plans[p.plan] : rl.anonymous;
    const bucket = p ? (`org:${p.orgId}` as const) : (`ip:${ip}` as const);
    let hit: WindowHit | BanHit;
    let source = 'redis';
    try {
      hit = await this.redis.hit({
        bucket,
        ip,
        limit,
        windowMs: rl.windowMs,
        evidence: {
          subject: bucket,
          kind: p ? 'org' : 'ip',
          ip,
          route: facts.route,
          ...(p ? { orgId: p.orgId, orgName: p.orgName } : {}),
          ...(facts.keyPrefix ? { keyPrefix: facts.keyPrefix } : {}),
        },
      });
    } catch {
      banChecksSkipped.inc();
      if (limit === 0) return {};
      fallbacks.inc();
      source = 'local';
      hit = this.local.hit(bucket, limit, rl.windowMs);
    }
    if ('banned' in hit) this.refuse(hit);
    if (limit === 0) return {};
    decisions.inc({ outcome: hit.allowed ? 'allowed' : 'limited', source });
    const w = Math.ceil(rl.windowMs / 1000);
    const t = Math.max(0, Math.ceil(hit.resetMs / 1000));
    const headers: RateHeaders = {
      'ratelimit-policy': `"${policy}";q=${limit};w=${w}`,
      ratelimit: `"${policy}";r=${hit.remaining};t=${t}`,
    };
    if (!hit.allowed)
      throw Object.assign(new RateLimitedError(policy, limit, w, Math.max(1, t)), { headers });
    return headers;
  }

  /**
   * Runs before an API key is looked up in PostgreSQL: refuses a banned address (403
   * BANNED), and one that has presented `HEADY_ANON_LIMIT` unknown or revoked keys within
   * the window (429, counted towards its ban like any 429), so neither costs a query.
   * Counts nothing itself ({@link authFailed} does); fails open when Redis does not answer.
   */
  async screen(client: ClientAddress, facts: RequestFacts): Promise<void> {
    const hit = await this.authWindow(client, facts, true);
    if (!hit) return;
    if ('banned' in hit) this.refuse(hit);
    if (hit.allowed) return;
    decisions.inc({ outcome: 'limited', source: 'redis' });
    const limit = this.config.rateLimit.anonymous;
    const w = Math.ceil(this.config.rateLimit.windowMs / 1000);
    const t = Math.max(1, Math.ceil(hit.resetMs / 1000));
    throw Object.assign(new RateLimitedError('unauthenticated', limit, w, t), {
      headers: {
        'ratelimit-policy': `"unauthenticated";q=${limit};w=${w}`,
        ratelimit: `"unauthenticated";r=0;t=${t}`,
      },
    });
  }

  /** Counts an unknown or revoked API key against the address's `authfail` window. */
  async authFailed(client: ClientAddress, facts: RequestFacts): Promise<void> {
    const hit = await this.authWindow(client, facts, false);
    if (hit && 'banned' in hit) this.refuse(hit);
  }

  private async authWindow(
    client: ClientAddress,
    facts: RequestFacts,
    peek: boolean,
  ): Promise<WindowHit | BanHit | undefined> {
    if (client.mesh) return undefined;
    const { ip } = client;
    const rl = this.config.rateLimit;
    try {
      return await this.redis.hit({
        bucket: `ip:${ip}`,
        window: 'authfail',
        peek,
        ip,
        limit: rl.anonymous,
        windowMs: rl.windowMs,
        evidence: {
          subject: `ip:${ip}`,
          kind: 'ip',
          ip,
          route: facts.route,
          ...(facts.keyPrefix ? { keyPrefix: facts.keyPrefix } : {}),
        },
      });
    } catch {
      banChecksSkipped.inc();
      return undefined;
    }
  }

  private refuse(hit: BanHit): never {
    const ban = hit.banned;
    decisions.inc({ outcome: 'banned', source: 'redis' });
    if (hit.fresh) {
      bansTotal.inc({ kind: ban.kind });
      this.log.warn({ ban }, `banned ${ban.subject} until ${new Date(ban.until).toISOString()}`);
      this.audit
        .publish(ban)
        .catch((e: unknown) => this.log.warn({ err: e, ban }, 'could not audit a ban'));
    }
    throw new BannedError(
      ban.subject,
      new Date(ban.until),
      Math.max(1, Math.ceil(hit.expiresInMs / 1000)),
    );
  }
}
