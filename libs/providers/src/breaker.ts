import {
  type BulkheadPolicy,
  bulkhead,
  circuitBreaker,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
} from 'cockatiel';
import { isProviderError, ProviderErrorKind } from './errors.js';

/** A breaker's state as the chain reports it; `isolated` is open by {@link ProviderGuard.forceOpen}. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** Failures that say the provider is unwell, not that the request or the caller was. */
export function countsTowardBreaker(e: unknown): boolean {
  return (
    isProviderError(e) &&
    (e.kind === ProviderErrorKind.Unavailable ||
      e.kind === ProviderErrorKind.Timeout ||
      e.kind === ProviderErrorKind.Auth)
  );
}

/**
 * A provider's request budget: e.g. the requests per minute its API key allows, shared by
 * every workers process that calls it. The chain takes one request from it before each call.
 */
export interface RequestBudget {
  /** Takes one request: resolves 0 when taken, else the ms until one is free (nothing taken). */
  take(): Promise<number>;
}

/** Breaker and concurrency settings of one provider in a chain. */
export interface GuardOptions {
  /** Consecutive failures that open the breaker; 5 if unset. */
  failureThreshold?: number;
  /** How long the breaker stays open before letting one trial call through; 30 s if unset. */
  halfOpenAfterMs?: number;
  /** Calls (and open streams) at once; unlimited if unset. */
  concurrency?: number;
  /** Calls waiting for a slot beyond {@link concurrency}; 0 (move on at once) if unset. */
  queue?: number;
  /** Requests it may be sent (e.g. per minute); unlimited if unset. */
  budget?: RequestBudget;
}

/** One provider's circuit breaker (cockatiel) and concurrency limit (cockatiel bulkhead). */
export class ProviderGuard {
  private breaker: CircuitBreakerPolicy;
  private readonly bulkhead: BulkheadPolicy | undefined;
  private isolation: { dispose(): void } | undefined;
  private readonly listeners = new Set<(state: BreakerState) => void>();

  constructor(private readonly options: GuardOptions = {}) {
    this.breaker = this.newBreaker();
    this.bulkhead =
      options.concurrency === undefined
        ? undefined
        : bulkhead(options.concurrency, options.queue ?? 0);
  }

  get state(): BreakerState {
    return STATES[this.breaker.state];
  }

  /** Holds the breaker open until {@link forceClose}: every call is skipped. */
  forceOpen(): void {
    this.isolation ??= this.breaker.isolate();
  }

  /**
   * Closes the breaker now, whatever opened it (a {@link forceOpen} or failures), with its
   * failure count reset.
   */
  forceClose(): void {
    const isolation = this.isolation;
    this.isolation = undefined;
    isolation?.dispose();
    if (this.breaker.state !== CircuitState.Closed) {
      this.breaker = this.newBreaker();
      this.emit('closed');
    }
  }

  /** Hears every state change, forced or not. Returns the unsubscribe. */
  onStateChange(listener: (state: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Takes one request from the provider's budget: 0 when taken (or there is no budget), else
   * the ms until one is free. Nothing is taken while the breaker is open: the call would be
   * skipped anyway.
   */
  take(): Promise<number> {
    const budget = this.options.budget;
    if (!budget || this.breaker.state === CircuitState.Open) return Promise.resolve(0);
    if (this.breaker.state === CircuitState.Isolated) return Promise.resolve(0);
    return budget.take();
  }

  /**
   * Waits for a concurrency slot (throws cockatiel's `BulkheadRejectedError` if none is
   * free and the queue is full); the returned function gives the slot back.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    const b = this.bulkhead;
    if (!b) return Promise.resolve(() => undefined);
    return new Promise((resolve, reject) => {
      b.execute(() => new Promise<void>((release) => resolve(release)), signal).catch(reject);
    });
  }

  /**
   * Runs `fn` through the breaker: throws `BrokenCircuitError` / `IsolatedCircuitError`
   * while open; a failure that {@link countsTowardBreaker} counts.
   */
  execute<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.breaker.execute(fn, signal);
  }

  private newBreaker(): CircuitBreakerPolicy {
    const b = circuitBreaker(handleWhen(countsTowardBreaker), {
      halfOpenAfter: this.options.halfOpenAfterMs ?? 30_000,
      breaker: new ConsecutiveBreaker(this.options.failureThreshold ?? 5),
    });
    b.onStateChange((s) => this.emit(STATES[s]));
    return b;
  }

  private emit(state: BreakerState): void {
    for (const l of this.listeners) l(state);
  }
}
