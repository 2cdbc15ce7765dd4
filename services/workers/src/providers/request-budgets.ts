import { type RequestBudget } from '@heady/providers';
import { type Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** The Redis key prefix of the providers' request budgets: `<prefix>providers:rpm:<provider>`. */
export const budgetsKey = (prefix: string): string => `${prefix}providers:rpm`;

const WINDOW_SECONDS = 60;

/**
 * The requests-per-minute budgets of the providers, shared by every workers process: each
 * provider's count lives in Redis (rate-limiter-flexible's atomic fixed window, one minute
 * long), so N replicas together send a provider at most its `rpm` requests in a window. If
 * Redis cannot be reached each process falls back to counting alone (the limiter's insurance),
 * which may let up to N × rpm through until Redis is back, rather than stop every call.
 */
export class RequestBudgets {
  private readonly budgets = new Map<string, { rpm: number; budget: RequestBudget }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** The budget of `provider` at `rpm` requests a minute (the same one while `rpm` is unchanged). */
  of(provider: string, rpm: number): RequestBudget {
    const have = this.budgets.get(provider);
    if (have?.rpm === rpm) return have.budget;
    const limiter = new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: budgetsKey(this.prefix),
      points: rpm,
      duration: WINDOW_SECONDS,
      // a Redis that is not connected answers at once from the insurance, not after a timeout
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points: rpm, duration: WINDOW_SECONDS }),
    });
    const budget: RequestBudget = {
      take: async () => {
        try {
          await limiter.consume(provider, 1);
          return 0;
        } catch (e) {
          if (e instanceof RateLimiterRes) return Math.max(1, e.msBeforeNext);
          throw e;
        }
      },
    };
    this.budgets.set(provider, { rpm, budget });
    return budget;
  }
}
