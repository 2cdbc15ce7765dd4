import { Injectable } from '@nestjs/common';

/** A readiness check: true (or a promise of true) when the dependency is usable. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** How one check ended: passed, returned false, threw (or rejected), or took too long. */
export type ReadinessOutcome = 'ok' | 'failing' | 'error' | 'timeout';

/** The outcome of every readiness check, by name. */
export interface ReadinessReport {
  /** True when every check passed (also when none is registered). */
  ready: boolean;
  checks: Record<string, ReadinessOutcome>;
  /** Names of the checks that did not pass, in registration order. */
  failing: string[];
}

/** How long a check may take before it counts as failing. */
export const READINESS_TIMEOUT_MS = 1_000;

async function run(check: ReadinessCheck): Promise<ReadinessOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), READINESS_TIMEOUT_MS);
  });
  try {
    const outcome = Promise.resolve()
      .then(check)
      .then((ok): ReadinessOutcome => (ok ? 'ok' : 'failing'));
    return await Promise.race([outcome, timeout]);
  } catch {
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}

/** Where a process's components register what "ready" means for them; read by `GET /readyz`. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Adds the check called `name`, replacing any earlier check of that name. */
  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /**
   * Runs every check in parallel. A check that returns false, throws, rejects or
   * takes over {@link READINESS_TIMEOUT_MS} counts as failing.
   */
  async check(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, fn]) => [name, await run(fn)] as const),
    );
    const failing = entries.filter(([, outcome]) => outcome !== 'ok').map(([name]) => name);
    return { ready: failing.length === 0, checks: Object.fromEntries(entries), failing };
  }
}
