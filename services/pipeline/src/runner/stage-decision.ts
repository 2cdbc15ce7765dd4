import { isPermanentError } from '@heady/bus';
import { type StageCommand, isStageName, nextStage } from '@heady/contracts';
import { type PipelineRun, type StageRun } from '@heady/db';
import { isUnavailable } from '@heady/contracts';

/** How a run ends once its compensation completes. */
export type RunEnd = 'COMPENSATED' | 'CANCELLED';

/** Why a run still going must stop (a cancellation request or a passed deadline). */
export interface Stop {
  end: RunEnd;
  reason: string;
}

/**
 * What the stage runner does with one delivery of a stage command, before any attempt:
 * - `reject`: the command cannot be run at all (unknown stage, no such run): permanent;
 * - `run`: claim an attempt on the stage's row and do the work;
 * - `re-announce`: the stage succeeded already; publish stage.succeeded and its successor
 *   (or run.succeeded) again — their msg ids make a repeat a no-op;
 * - `compensate`: start undoing the run (again: its msg ids make a repeat a no-op), which
 *   ends it `end` — after a final failure, a cancellation request (`cancel`), a passed
 *   deadline (`deadline`), or to re-announce the compensation of a run that already ended;
 * - `skip`: nothing is left to do (the run ended elsewhere, or the stage was undone).
 */
export type Decision =
  | { kind: 'reject'; reason: string }
  | { kind: 'run' }
  | { kind: 're-announce'; attempt: number }
  | {
      kind: 'compensate';
      cause: 'failed' | 'cancel' | 'deadline' | 'ended';
      reason: string;
      end: RunEnd;
    }
  | { kind: 'skip'; reason: string };

/** What `decide` reads of a stage's row. */
export type StageRowState = Pick<StageRun, 'status' | 'attempts' | 'error'>;

export interface DecisionInput {
  cmd: StageCommand;
  /** The run's row; undefined when there is none. */
  run: PipelineRun | undefined;
  /** The stage's row for (run, stage, iteration); undefined before its first attempt. */
  row: StageRowState | undefined;
  /** Now, in epoch milliseconds (the deadline's clock). */
  now: number;
}

/** Whether a run's status means it is still going. */
export function isGoing(run: Pick<PipelineRun, 'status'>): boolean {
  return run.status === 'PENDING' || run.status === 'RUNNING';
}

/** Why a run still going must stop: a cancellation request, or its `options.deadlineMs` passed. */
export function stopOf(
  run: Pick<PipelineRun, 'status' | 'cancel_requested_at' | 'options' | 'created_at'>,
  now: number,
): Stop | undefined {
  // a run that ended (monitor closed it SUCCEEDED, say) is past stopping
  if (!isGoing(run)) return undefined;
  if (run.cancel_requested_at) return { end: 'CANCELLED', reason: 'cancelled on request' };
  const deadlineMs = (run.options as { deadlineMs?: unknown }).deadlineMs;
  if (typeof deadlineMs === 'number' && now > run.created_at.getTime() + deadlineMs) {
    return { end: 'COMPENSATED', reason: `deadline of ${deadlineMs} ms exceeded` };
  }
  return undefined;
}

/** What to do with a delivery of `cmd`, given its run and its stage's row (see `Decision`). */
export function decide({ cmd, run, row, now }: DecisionInput): Decision {
  if (!isStageName(cmd.stage)) return { kind: 'reject', reason: `unknown stage "${cmd.stage}"` };
  if (!run) return { kind: 'reject', reason: `run ${cmd.runId} does not exist` };

  if (!isGoing(run)) {
    // The run ended. When this stage ended it, the events announcing the end may not have gone
    // out (the process died, or NATS was away, between the commit and the publishes): they
    // are published again. Any other delivery is skipped.
    if (run.status === 'SUCCEEDED' && row?.status === 'SUCCEEDED' && !nextStage(cmd)) {
      return { kind: 're-announce', attempt: row.attempts };
    }
    if (run.status === 'COMPENSATED' && row?.status === 'FAILED') {
      return {
        kind: 'compensate',
        cause: 'ended',
        reason: run.error ?? 'stage failed',
        end: 'COMPENSATED',
      };
    }
    if (
      (run.status === 'CANCELLED' || run.status === 'COMPENSATED') &&
      (!row || row.status === 'RUNNING')
    ) {
      // the stage that found the run cancelled (or past its deadline) ended it
      return {
        kind: 'compensate',
        cause: 'ended',
        reason: run.error ?? 'stopped',
        end: run.status,
      };
    }
    return { kind: 'skip', reason: `run already ${run.status}` };
  }

  // a cancelled run, or one past its deadline, goes no further: what completed is undone
  const stop = stopOf(run, now);
  if (stop) {
    return {
      kind: 'compensate',
      cause: stop.end === 'CANCELLED' ? 'cancel' : 'deadline',
      reason: stop.reason,
      end: stop.end,
    };
  }
  return settledOrRun(row);
}

/**
 * A stage's own row decides once the run is going: a settled row is never run again —
 * after a success its successor is re-announced (attempt 0: the successor's command and
 * stage.succeeded carry msg ids, so the attempt number does not matter); after a final
 * failure the compensation is started; once undone (COMPENSATED) nothing is done, as running
 * it again would redo an effect the compensation removed.
 */
export function settledOrRun(row: StageRowState | undefined): Decision {
  switch (row?.status) {
    case 'SUCCEEDED':
      return { kind: 're-announce', attempt: 0 };
    case 'FAILED':
      return {
        kind: 'compensate',
        cause: 'failed',
        reason: row.error ?? 'stage failed',
        end: 'COMPENSATED',
      };
    case 'COMPENSATED':
      return { kind: 'skip', reason: 'stage already undone' };
    case 'RUNNING':
    case undefined:
      return { kind: 'run' };
  }
}

/**
 * What a failed attempt leads to:
 * - `infrastructure`: PostgreSQL or NATS was unreachable; redelivered, never the stage's failure;
 * - `stopped`: a heartbeat found the run cancelled or past its deadline and stopped the work;
 * - `retry`: retried after the stage's backoff;
 * - `final`: a permanent failure, or the last attempt's: the stage fails and the run is undone.
 */
export type FailureDecision =
  | { kind: 'infrastructure' }
  | { kind: 'stopped'; stop: Stop }
  | { kind: 'retry' }
  | { kind: 'final' };

export function decideFailure(f: {
  err: unknown;
  /** Set when a heartbeat stopped the stage. */
  stopped: Stop | undefined;
  attempt: number;
  maxAttempts: number;
}): FailureDecision {
  if (isUnavailable(f.err)) return { kind: 'infrastructure' };
  if (f.stopped) return { kind: 'stopped', stop: f.stopped };
  if (isPermanentError(f.err) || f.attempt >= f.maxAttempts) return { kind: 'final' };
  return { kind: 'retry' };
}

/**
 * What a committed success leads to: the next stage, unless the run was cancelled or passed
 * its deadline while the stage worked (then it goes no further and is undone).
 */
export function decideAfterSuccess(
  run: PipelineRun | undefined,
  now: number,
): { kind: 'advance' } | { kind: 'compensate'; stop: Stop } {
  const stop = run && stopOf(run, now);
  return stop ? { kind: 'compensate', stop } : { kind: 'advance' };
}
