// cockatiel 3's isIsolatedCircuitError / isTaskCancelledError test for the bulkhead's
// marker (a bug fixed in 4, which needs Node 22): its classes are tested with instanceof.
import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import { type BreakerState, type GuardOptions, ProviderGuard } from './breaker.js';
import { isProviderError, ProviderError, ProviderErrorKind } from './errors.js';
import {
  type ChatRequest,
  type ChatResult,
  type ChatStreamEvent,
  type EmbedRequest,
  type EmbedResult,
  type ModelProvider,
} from './types.js';

/** What happened when the chain tried one provider. */
export interface Attempt {
  provider: string;
  /**
   * `answered`; `failed` (see `errorKind`); `breaker_open` (skipped, its breaker is open or
   * forced open); `busy` (skipped, its concurrency limit and queue were full); `throttled`
   * (skipped, its request budget was spent: `errorKind` is `rate_limited`).
   */
  outcome: 'answered' | 'failed' | 'breaker_open' | 'busy' | 'throttled';
  errorKind?: ProviderErrorKind;
  /** For `rate_limited`: how long the provider (or its budget) asked us to wait. */
  retryAfterMs?: number;
}

/** A chain's answer: the provider's, with every provider tried on the way. */
export type ChainChatResult = ChatResult & { attempts: Attempt[] };
/** A chain's stream: the answering provider's deltas, then its `done` with the attempts. */
export type ChainStreamEvent =
  { type: 'delta'; text: string } | ({ type: 'done' } & ChainChatResult);
/** A chain's embeddings, with every provider tried on the way. */
export type ChainEmbedResult = EmbedResult & { attempts: Attempt[] };

/** One provider of a chain, with its own breaker and concurrency settings. */
export interface ChainMember {
  provider: ModelProvider;
  guard?: GuardOptions;
}

/** Options of a {@link ProviderChain}. */
export interface ProviderChainOptions {
  /** The service group this chain serves (`reasoning`, `coding`, ...); names its errors. */
  group: string;
  /** The primary first, then the fallbacks in the order to try them. */
  providers: (ModelProvider | ChainMember)[];
  /** Breaker and concurrency settings of members that give none. */
  defaults?: GuardOptions;
}

/**
 * Every provider of a chain failed or was skipped, or the call stopped at one that must not
 * be retried elsewhere (`aborted`, `bad_request`). `kind` is that stopping kind; when all
 * were rate limited it is `rate_limited` with the shortest wait asked; otherwise `unavailable`.
 */
export class ProviderChainError extends ProviderError {
  override readonly name = 'ProviderChainError';
  constructor(
    kind: ProviderErrorKind,
    group: string,
    message: string,
    readonly attempts: Attempt[],
    options: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(kind, group, message, options);
  }
}

/** True for a {@link ProviderChainError}. */
export function isProviderChainError(e: unknown): e is ProviderChainError {
  return e instanceof ProviderChainError;
}

/** Kinds that end the chain: trying another provider would not help (or was not wanted). */
const STOPS: ReadonlySet<ProviderErrorKind> = new Set([
  ProviderErrorKind.Aborted,
  ProviderErrorKind.BadRequest,
]);

interface Member {
  provider: ModelProvider;
  guard: ProviderGuard;
}

/**
 * A primary provider and its fallbacks for one service group. Each call tries them in
 * order: a provider whose breaker is open is skipped; `unavailable`, `timeout` and `auth`
 * count toward its breaker and move on; `rate_limited`, `unsupported`, a full concurrency
 * limit and a spent request budget move on without counting; `aborted` and `bad_request` stop the chain.
 * A stream moves on only before its first event: once text has reached the caller, a
 * failure is thrown to it as the provider's own {@link ProviderError}.
 */
export class ProviderChain {
  readonly group: string;
  private readonly members: Member[];

  constructor(options: ProviderChainOptions) {
    this.group = options.group;
    this.members = options.providers.map((m) => {
      const member = 'provider' in m ? m : { provider: m };
      return {
        provider: member.provider,
        guard: new ProviderGuard({ ...options.defaults, ...member.guard }),
      };
    });
    const names = new Set(this.members.map((m) => m.provider.name));
    if (names.size !== this.members.length)
      throw new Error(`chain ${this.group}: provider names must be unique`);
  }

  /** Each provider's breaker state, by provider name, in chain order. */
  breakerStates(): Record<string, BreakerState> {
    return Object.fromEntries(this.members.map((m) => [m.provider.name, m.guard.state]));
  }

  /** Holds a provider's breaker open (e.g. because another replica saw it fail) until closed. */
  forceOpen(provider: string): void {
    this.member(provider).guard.forceOpen();
  }

  /** Closes a provider's breaker now, with its failure count reset. */
  forceClose(provider: string): void {
    this.member(provider).guard.forceClose();
  }

  /** Hears every breaker state change of every provider. Returns the unsubscribe. */
  onBreakerStateChange(listener: (provider: string, state: BreakerState) => void): () => void {
    const offs = this.members.map((m) =>
      m.guard.onStateChange((state) => listener(m.provider.name, state)),
    );
    return () => offs.forEach((off) => off());
  }

  /** The first answer of the providers in order (see the class doc for what moves on). */
  async chat(req: ChatRequest): Promise<ChainChatResult> {
    const { value, attempts } = await this.run(req.signal, async (p) => ({
      value: await p.chat(req),
      release: undefined,
    }));
    return { ...value, attempts };
  }

  /** The first provider's stream that yields an event (see the class doc). */
  async *stream(req: ChatRequest): AsyncGenerator<ChainStreamEvent> {
    const { value, attempts } = await this.run(req.signal, async (p) => {
      const it = p.stream(req)[Symbol.asyncIterator]();
      return { value: { it, first: await it.next() }, release: 'hold' as const };
    });
    const { it, first, release } = value;
    try {
      for (let r = first; !r.done; r = await it.next()) {
        const ev: ChatStreamEvent = r.value;
        yield ev.type === 'done' ? { ...ev, attempts } : ev;
      }
    } finally {
      release();
      await it.return?.();
    }
  }

  /** The first provider's embeddings (Anthropic's `unsupported` moves on). */
  async embed(req: EmbedRequest): Promise<ChainEmbedResult> {
    const { value, attempts } = await this.run(req.signal, async (p) => ({
      value: await p.embed(req),
      release: undefined,
    }));
    return { ...value, attempts };
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.provider.name === name);
    if (!m) throw new Error(`chain ${this.group} has no provider ${name}`);
    return m;
  }

  /**
   * Tries `op` on each provider through its breaker and concurrency slot. With `release:
   * 'hold'` the slot stays taken and its release is handed back (a stream holds it to its end).
   */
  private async run<T, H extends 'hold' | undefined>(
    signal: AbortSignal | undefined,
    op: (p: ModelProvider) => Promise<{ value: T; release: H }>,
  ): Promise<{
    value: H extends 'hold' ? T & { release: () => void } : T;
    attempts: Attempt[];
  }> {
    const attempts: Attempt[] = [];
    for (const { provider, guard } of this.members) {
      const name = provider.name;
      // The slot is taken before the breaker is asked, so a full provider never reaches the
      // breaker: a rejection there would count as a success and close a half-open breaker.
      let release: (() => void) | undefined;
      try {
        // a spent budget moves on without calling, as a 429 would, and counts nowhere
        const wait = await guard.take();
        if (wait > 0) {
          attempts.push({
            provider: name,
            outcome: 'throttled',
            errorKind: ProviderErrorKind.RateLimited,
            retryAfterMs: wait,
          });
          continue;
        }
        release = await guard.acquire(signal);
        const r = await guard.execute(() => op(provider), signal);
        const value = r.release === 'hold' ? { ...r.value, release } : r.value;
        if (r.release !== 'hold') release();
        attempts.push({ provider: name, outcome: 'answered' });
        return { value: value as never, attempts };
      } catch (e) {
        release?.();
        // IsolatedCircuitError (forced open) is a BrokenCircuitError
        if (e instanceof BrokenCircuitError) {
          attempts.push({ provider: name, outcome: 'breaker_open' });
          continue;
        }
        if (e instanceof BulkheadRejectedError) {
          attempts.push({ provider: name, outcome: 'busy' });
          continue;
        }
        const err = isProviderError(e)
          ? e
          : e instanceof TaskCancelledError || signal?.aborted
            ? new ProviderError(ProviderErrorKind.Aborted, name, `${name}: call aborted`, {
                cause: e,
              })
            : new ProviderError(ProviderErrorKind.Unavailable, name, `${name}: failed`, {
                cause: e,
              });
        attempts.push({
          provider: name,
          outcome: 'failed',
          errorKind: err.kind,
          ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
        });
        if (STOPS.has(err.kind))
          throw new ProviderChainError(err.kind, this.group, err.message, attempts, { cause: err });
      }
    }
    throw this.exhausted(attempts);
  }

  private exhausted(attempts: Attempt[]): ProviderChainError {
    const tried = attempts.map((a) => `${a.provider}: ${a.errorKind ?? a.outcome}`).join(', ');
    const message = `${this.group}: no provider answered (${tried})`;
    if (attempts.length > 0 && attempts.every((a) => a.errorKind === 'rate_limited')) {
      const waits = attempts.flatMap((a) => (a.retryAfterMs === undefined ? [] : [a.retryAfterMs]));
      return new ProviderChainError(ProviderErrorKind.RateLimited, this.group, message, attempts, {
        ...(waits.length > 0 ? { retryAfterMs: Math.min(...waits) } : {}),
      });
    }
    return new ProviderChainError(ProviderErrorKind.Unavailable, this.group, message, attempts);
  }
}
