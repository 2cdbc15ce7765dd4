import { type WindowHit } from './rate-limit.repository.js';

/**
 * The per-process sliding window used while Redis is unreachable: the same semantics as
 * the Redis script, but each replica counts on its own (so N replicas admit up to N×limit).
 */
export class LocalLimiter {
  private readonly windows = new Map<string, number[]>();

  hit(bucket: string, limit: number, windowMs: number, now = Date.now()): WindowHit {
    const log = (this.windows.get(bucket) ?? []).filter((t) => t > now - windowMs);
    const allowed = log.length < limit;
    if (allowed) log.push(now);
    this.windows.set(bucket, log);
    if (this.windows.size > 100_000) this.sweep(now, windowMs);
    const oldest = log[0];
    return {
      allowed,
      remaining: Math.max(0, limit - log.length),
      resetMs: oldest === undefined ? 0 : oldest + windowMs - now,
    };
  }

  private sweep(now: number, windowMs: number): void {
    for (const [k, v] of this.windows)
      if (!v.some((t) => t > now - windowMs)) this.windows.delete(k);
  }
}
