import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields added to every log line written inside {@link withLogContext}; `runId` is written as `run_id`. */
export interface LogContext {
  runId?: string;
  [field: string]: unknown;
}

const store = new AsyncLocalStorage<LogContext>();

/**
 * Runs `fn` with `fields` added to every log line written during it and during
 * everything it awaits or schedules. Nested calls merge, the inner value winning;
 * lines written outside `fn` are unaffected. Returns what `fn` returns.
 */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return store.run({ ...store.getStore(), ...fields }, fn);
}

/** The log context of the current async flow, or undefined outside any {@link withLogContext}. */
export function currentLogContext(): Readonly<LogContext> | undefined {
  return store.getStore();
}
