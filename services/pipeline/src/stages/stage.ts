import { PermanentError } from '@heady/bus';
import { type StageCommand, type StageName } from '@heady/contracts';
import { type Database, type PipelineRun, type Transaction } from '@heady/db';
import { type PipelineConfig } from '@heady/config';

/** What a stage's invoke receives: its run, its command, and the transaction its effects join. */
export interface StageInput {
  run: PipelineRun;
  cmd: StageCommand;
  /** The stage's effects and its SUCCEEDED mark commit together, so a redelivery finds the work done. */
  tx: Transaction<Database>;
  config: PipelineConfig;
  /** 1 on the first delivery; counted in `pipeline_stage_runs.attempts`. */
  attempt: number;
  /**
   * Aborted when the run is cancelled or passes its deadline while the stage works (checked
   * at every heartbeat). A long stage should stop when it fires: its transaction rolls back
   * and the run is compensated at once. A stage that ignores it finishes first; the run
   * still goes no further.
   */
  signal: AbortSignal;
}

/** What a stage returns: its output (kept on the stage row), metrics, and what its compensation needs. */
export interface StageResult {
  output: Record<string, unknown>;
  metrics?: Record<string, number>;
  /** The smallest input that undoes this stage; omitted or null means nothing to undo. */
  compensation?: Record<string, unknown> | null;
}

/** What a compensation receives: its run and the transaction its effects (and the COMPENSATED mark) join. */
export interface CompensateInput {
  run: PipelineRun;
  tx: Transaction<Database>;
  config: PipelineConfig;
}

/** How a stage is retried: deliveries in all, and the delay before each retry (the last repeats). */
export interface RetryPolicy {
  maxAttempts: number;
  backoff: number[];
}

export interface StageOptions {
  name: StageName;
  retry?: Partial<RetryPolicy>;
  /** Longest one attempt may take; past it the attempt fails and is retried. */
  timeoutMs?: number;
}

/** One of the nine stages: a name, its retry policy and timeout, its work and its undo. */
export interface StageDefinition {
  name: StageName;
  retry: RetryPolicy;
  timeoutMs: number;
  invoke(input: StageInput): Promise<StageResult>;
  /** Undoes the stage; a no-op on null input and safe to run twice. */
  compensate(data: Record<string, unknown> | null, input: CompensateInput): Promise<void>;
}

/** The policy a stage gets when it declares none: 5 deliveries, 250 ms, 1 s, 5 s, 15 s apart. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, backoff: [250, 1_000, 5_000, 15_000] };
/** The timeout a stage gets when it declares none. */
export const DEFAULT_TIMEOUT_MS = 20_000;

/** Says a failure is permanent: no more retries, the run is compensated. */
export function permanentFailure(reason: string): never {
  throw new PermanentError(reason);
}

function rejecting<A extends unknown[], R>(fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  // A stage that throws synchronously fails like one that rejects.
  return (...a) => {
    try {
      return fn(...a);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };
}

/**
 * Declares a stage, Medusa-style, one per file: invoke returns its output and, separately,
 * the smallest input its compensation needs; compensate undoes it (no-op on null).
 */
export function defineStage(
  options: StageOptions,
  invoke: StageDefinition['invoke'],
  compensate?: StageDefinition['compensate'],
): StageDefinition {
  return {
    name: options.name,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    invoke: rejecting(invoke),
    compensate: rejecting(compensate ?? (() => Promise.resolve())),
  };
}

/** Attempts a stage gets: HEADY_STAGE_MAX_DELIVER when set, else its declared `retry.maxAttempts`. */
export function maxAttemptsOf(
  stage: Pick<StageDefinition, 'retry'>,
  config: { stageConsumer: { maxDeliver?: number } },
): number {
  return config.stageConsumer.maxDeliver ?? stage.retry.maxAttempts;
}

/**
 * Deliveries a stage's consumers (its commands and its compensations) allow beyond its
 * attempts: redeliveries while PostgreSQL or NATS is unreachable (not counted as attempts)
 * and after a crash mid-attempt.
 */
export const SPARE_DELIVERIES = 40;
