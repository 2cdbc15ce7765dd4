import { PermanentError } from '@heady/bus';
import { type StageCommand, type StageName } from '@heady/contracts';
import { type PipelineRun, type RunHandle } from '@heady/db';
import { type PipelineConfig } from '@heady/config';
import { type ContextRetrieval } from '../runner/context-retrieval.js';
import { type StageWork } from '../runner/task-fan-out.js';
import { type StageReads } from './stage-reads.repository.js';

/**
 * What a stage's invoke receives: its run, its command, and typed handles bound to the
 * transaction its SUCCEEDED mark commits in — the reads it may make and the run's guarded state
 * writes (`pipeline_runs` is written only there) — so a redelivery finds the work done or
 * nothing of it. Stages get no raw database handle.
 */
export interface StageInput {
  run: PipelineRun;
  cmd: StageCommand;
  /** The queries stages make (groups, workflows, earlier stages' rows), in the stage's transaction. */
  reads: StageReads;
  /** The run's guarded transitions (admit, record the group, set the result, succeed), in the same transaction. */
  state: RunHandle;
  config: PipelineConfig;
  /** Sends the run's tasks to the workers (`work.<group>`) and gathers their answers. */
  work: StageWork;
  /** Retrieves the passages a run's question is answered from (the organization's memory). */
  context: ContextRetrieval;
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

/** A stage's output, or the input of its compensation: JSON kept on the stage row. */
export type StageData = Record<string, unknown>;

/** What a stage returns: its output (kept on the stage row), metrics, and what its compensation needs. */
export interface StageResult<
  Output extends StageData = StageData,
  Undo extends StageData = StageData,
> {
  output: Output;
  metrics?: Record<string, number>;
  /** The smallest input that undoes this stage; omitted or null means nothing to undo. */
  compensation?: Undo | null;
}

/** What a compensation receives: its run and handles bound to the transaction of its COMPENSATED mark. */
export interface CompensateInput {
  run: PipelineRun;
  /** The queries stages make, in the compensation's transaction. */
  reads: StageReads;
  /** The run's guarded writes (retract the result, release the idempotency key), in the same transaction. */
  state: RunHandle;
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

/**
 * One of the nine stages: a name, its retry policy and timeout, its work and its undo. `Output`
 * is what the stage records; `Undo` what its compensation receives (what invoke returned as
 * `compensation`, read back from the stage row).
 */
export interface StageDefinition<
  Output extends StageData = StageData,
  Undo extends StageData = StageData,
> {
  name: StageName;
  retry: RetryPolicy;
  timeoutMs: number;
  invoke(input: StageInput): Promise<StageResult<Output, Undo>>;
  /** Undoes the stage; a no-op on null input and safe to run twice. */
  compensate(data: Undo | null, input: CompensateInput): Promise<void>;
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
 * Declares a stage, one per file, like Medusa's `createStep`: invoke returns its output and,
 * separately, the smallest input its compensation needs (typed `Undo`); compensate undoes it
 * (no-op on null).
 */
export function defineStage<Output extends StageData, Undo extends StageData = never>(
  options: StageOptions,
  invoke: (input: StageInput) => Promise<StageResult<Output, Undo>>,
  compensate?: (data: Undo | null, input: CompensateInput) => Promise<void>,
): StageDefinition<Output, Undo> {
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
