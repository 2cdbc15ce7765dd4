import { type GatewayConfig } from '@heady/config';
import { RateLimitedError } from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { type BlockList } from 'node:net';
import { type Caller } from '../auth/access.js';
import { cidrSet, clientIp, contains } from './client-ip.js';
import { LocalLimiter } from './local-limiter.js';
import { RateLimitRepository, type WindowHit } from './rate-limit.repository.js';

const fallbacks = counter(
  'heady_gateway_ratelimit_fallback_total',
  'Rate-limit decisions taken by the per-process fallback because Redis did not answer',
);
const decisions = counter('heady_gateway_ratelimit_decisions_total', 'Rate-limit decisions', [
  'outcome',
  'source',
]);

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
  ) {
    this.trusted = cidrSet(config.rateLimit.trustedProxies);
    this.mesh = cidrSet(config.rateLimit.meshCidrs);
  }

  /** The client address, honouring X-Forwarded-For only from trusted proxies. */
  clientIp(peer: string | undefined, xff: string | string[] | undefined): string {
    return clientIp(peer, xff, this.trusted);
  }

  /** Counts the request; returns the headers to send, or throws RATE_LIMITED (429) with them in `headers`. */
  async admit(caller: Caller, ip: string): Promise<RateHeaders> {
    if (contains(this.mesh, ip)) return {};
    const rl = this.config.rateLimit;
    const p = caller.principal;
    const policy = p ? p.plan.toLowerCase() : 'anonymous';
    const limit = p ? rl.plans[p.plan] : rl.anonymous;
    if (limit === 0) return {};
    const bucket = p ? `org:${p.orgId}` : `ip:${ip}`;
    let hit: WindowHit;
    let source = 'redis';
    try {
      hit = await this.redis.hit(bucket, limit, rl.windowMs);
    } catch {
      fallbacks.inc();
      source = 'local';
      hit = this.local.hit(bucket, limit, rl.windowMs);
    }
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
}
