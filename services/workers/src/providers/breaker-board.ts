import { type BreakerState } from '@heady/providers';
import { type Logger } from '@heady/telemetry';
import { type Redis } from 'ioredis';

/** One provider's breaker as the workers share it (Redis hash `<prefix>providers:breakers`). */
export interface SharedBreaker {
  provider: string;
  /** `closed` or `open` (half-open and forced states stay local). */
  state: 'closed' | 'open';
  /** When it changed (ms since the epoch). */
  since: number;
  /** Until when the breaker that opened stays open before it tries the provider again. */
  until: number | null;
  /** The workers process whose breaker changed. */
  instance: string;
}

/** The Redis key (a hash by provider) and channel of the shared breaker state. */
export const breakersKey = (prefix: string): string => `${prefix}providers:breakers`;

/**
 * Shares the providers' circuit breakers between workers processes through Redis: a breaker
 * that opens or closes in one process is written to a hash (what `GET /api/providers/health`
 * reads) and published on a channel; every other process holds that provider open too —
 * until the opener's half-open time, or until the opener says it closed — so no replica keeps
 * calling a provider another has found broken. Redis being away costs only the sharing: each
 * process's own breakers work on.
 */
export class BreakerBoard {
  private readonly remoteOpen = new Map<string, SharedBreaker>();
  private readonly releases = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly instance: string,
    private readonly halfOpenAfterMs: number,
    private readonly apply: {
      /** Hold `provider` open here (another process opened its breaker). */
      hold(provider: string): void;
      /** Stop holding `provider` open here. */
      release(provider: string): void;
    },
    private readonly log: Logger,
  ) {}

  /** Subscribes to the other processes' changes and records `providers` as closed here. */
  async start(providers: readonly string[]): Promise<void> {
    this.subscriber.on('message', (_channel: string, raw: string) => this.heard(raw));
    await this.subscriber.subscribe(breakersKey(this.prefix));
    const now = Date.now();
    const known = await this.redis.hgetall(breakersKey(this.prefix));
    for (const p of providers) {
      const raw = known[p];
      const seen = raw ? (JSON.parse(raw) as SharedBreaker) : undefined;
      // another process's breaker that is still open counts here too
      if (raw && seen?.state === 'open' && seen.until !== null && seen.until > now) this.heard(raw);
      else if (!seen)
        await this.write({
          provider: p,
          state: 'closed',
          since: now,
          until: null,
          instance: this.instance,
        });
    }
  }

  /** Called on every change of a breaker of this process. */
  changed(provider: string, state: BreakerState): void {
    // a provider held open for another process is not this process's finding
    if (state === 'isolated' || state === 'half-open') return;
    if (state === 'closed' && this.remoteOpen.has(provider)) return;
    const now = Date.now();
    const b: SharedBreaker = {
      provider,
      state,
      since: now,
      until: state === 'open' ? now + this.halfOpenAfterMs : null,
      instance: this.instance,
    };
    this.write(b)
      .then(() => this.redis.publish(breakersKey(this.prefix), JSON.stringify(b)))
      .catch((err: unknown) => this.log.warn({ err, provider }, 'breaker state not shared'));
  }

  private async write(b: SharedBreaker): Promise<void> {
    await this.redis.hset(breakersKey(this.prefix), b.provider, JSON.stringify(b));
  }

  private heard(raw: string): void {
    let b: SharedBreaker;
    try {
      b = JSON.parse(raw) as SharedBreaker;
    } catch {
      return;
    }
    if (b.instance === this.instance) return;
    clearTimeout(this.releases.get(b.provider));
    if (b.state === 'open' && b.until !== null) {
      this.remoteOpen.set(b.provider, b);
      this.apply.hold(b.provider);
      this.releases.set(
        b.provider,
        setTimeout(() => this.drop(b.provider), Math.max(0, b.until - Date.now())).unref(),
      );
      this.log.info(
        { provider: b.provider, by: b.instance },
        'provider held open: its breaker opened elsewhere',
      );
    } else if (b.state === 'closed' && this.remoteOpen.has(b.provider)) {
      this.drop(b.provider);
    }
  }

  private drop(provider: string): void {
    this.releases.delete(provider);
    if (!this.remoteOpen.has(provider)) return;
    // still marked remote while released, so the close it causes here is not shared
    this.apply.release(provider);
    this.remoteOpen.delete(provider);
  }

  /** Whether `provider` is held open here for another process. */
  holds(provider: string): boolean {
    return this.remoteOpen.has(provider);
  }

  /** Stops listening (the connections are closed by their owner). */
  stop(): void {
    for (const t of this.releases.values()) clearTimeout(t);
    this.releases.clear();
  }
}
