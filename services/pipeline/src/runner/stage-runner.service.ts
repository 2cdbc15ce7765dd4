import {
  BusPublisher,
  type JetStreamContext,
  isPermanentError,
  isRetryableError,
  PermanentError,
  RetryableError,
  stageMsgId,
} from '@heady/bus';
import { type PipelineConfig, STAGE_NAMES } from '@heady/config';
import {
  RunStatus,
  type StageCommand,
  StageCommandSchema,
  isStageName,
  nextStage,
  stageCommand,
  stageSubject,
} from '@heady/contracts';
import { type PipelineRun } from '@heady/db';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, histogram, withLogContext } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { STAGES } from '../stages/index.js';
import { maxAttemptsOf } from '../stages/stage.js';
import { CompensationRunner } from './compensation-runner.service.js';
import { faultsOf, injectFaults } from './faults.js';
import { messageOf, outageAsRetry, withTimeout } from './handler-errors.js';
import { isInfrastructureError } from './infra-errors.js';
import { RunEvents } from './run-events.js';
import { type StageKey, StageRunsRepository } from './stage-runs.repository.js';

const stageSeconds = histogram('heady_stage_duration_seconds', 'Time a stage took, per attempt', [
  'stage',
  'outcome',
]);

/**
 * Runs one stage command with the bookkeeping every stage shares: an attempt is counted
 * on the stage's single (run, stage, iteration) row; the work and its SUCCEEDED mark
 * commit in one transaction under the row's lock; only then is the next command
 * published (its msg id `<run>:<stage>:<iteration>` makes a re-publish a no-op) and the
 * message acked. A redelivery after a crash therefore finds the work done and re-emits.
 *
 * A failure is retried by the consumer (`nak` after the stage's backoff) until the stage's
 * `retry.maxAttempts`; a permanent failure, the last attempt's, the run's deadline or a
 * cancellation request starts its compensation: a durable command per completed stage of the
 * routing slip, in reverse (see CompensationRunner). A run cancelled or past its deadline
 * while a stage works does not advance: that stage, once done, starts the compensation.
 * PostgreSQL or NATS being unreachable is never the stage's failure: it is retried without
 * counting towards the stage's attempts.
 */
@Injectable()
export class StageRunner {
  constructor(
    @Inject(StageRunsRepository) private readonly repo: StageRunsRepository,
    @Inject(RunEvents) private readonly events: RunEvents,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CompensationRunner) private readonly compensation: CompensationRunner,
    @Inject(CONFIG) private readonly config: PipelineConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  handle(cmd: StageCommand, ctx: JetStreamContext): Promise<void> {
    return withLogContext({ runId: cmd.runId, stage: cmd.stage }, async () => {
      // long work keeps its delivery: a heartbeat at a third of the ack wait, which also
      // looks for a cancellation request or a passed deadline and then stops the stage
      const stop = new AbortController();
      let checking = false;
      const beat = setInterval(
        () => {
          ctx.working();
          if (checking || stop.signal.aborted) return;
          checking = true;
          this.repo
            .getRun(cmd.runId)
            .then((r) => {
              const why = r && stopOf(r);
              if (why) stop.abort(new StageStopped(why));
            })
            .catch(() => undefined)
            .finally(() => (checking = false));
        },
        Math.max(250, ctx.spec.ackWaitMs / 3),
      );
      try {
        await this.run(cmd, stop.signal);
      } catch (err) {
        throw outageAsRetry(err, this.log, cmd.runId);
      } finally {
        clearInterval(beat);
      }
    });
  }

  private async run(cmd: StageCommand, signal: AbortSignal): Promise<void> {
    if (!isStageName(cmd.stage)) throw new PermanentError(`unknown stage "${cmd.stage}"`);
    const stage = STAGES[cmd.stage];
    const key: StageKey = {
      runId: cmd.runId,
      stageNum: cmd.stageNum,
      stageName: cmd.stage,
      iteration: cmd.iteration,
    };
    const run = await this.repo.getRun(cmd.runId);
    if (!run) throw new PermanentError(`run ${cmd.runId} does not exist`);
    const faults = this.config.faults ? faultsOf(run.options) : [];
    if (run.status !== 'PENDING' && run.status !== 'RUNNING') {
      await this.ended(cmd, run, key);
      return;
    }

    // a cancelled run, or one past its deadline, goes no further: what completed is undone
    const stop = stopOf(run);
    if (stop) {
      await this.compensate(cmd, run, stop.reason, stop.status);
      return;
    }

    // a stage that failed for good, redelivered: its compensation is what is left to start
    const existing = await this.repo.getStageRow(key);
    if (existing?.status === 'FAILED') {
      await this.compensate(cmd, run, existing.error ?? 'stage failed', 'COMPENSATED');
      return;
    }

    const attempt = await this.repo.beginAttempt(key);
    if (!attempt) {
      await this.settled(cmd, run, key);
      return;
    }
    // Published without waiting: messages on one connection reach JetStream in the order
    // sent, so subscribers still see started before succeeded; their acks are awaited below.
    const announced: Promise<void>[] = [];
    if (cmd.stage === 'channel-entry' && attempt.attempts === 1) {
      announced.push(
        this.events.publish({ ...this.ev(cmd, attempt.attempts), event: 'run.started' }),
      );
    }
    announced.push(
      this.events.publish({ ...this.ev(cmd, attempt.attempts), event: 'stage.started' }),
    );
    // a failed publish surfaces through Promise.all below; this only silences the early rejection
    for (const p of announced) p.catch(() => undefined);

    const started = performance.now();
    let ran: boolean | undefined;
    try {
      ran = await this.repo.withStageLock(key, async (tx, row) => {
        const result = await withTimeout(stage.timeoutMs, `stage ${stage.name}`, async () => {
          await injectFaults(faults, cmd.stage, attempt.attempts, signal);
          return stage.invoke({
            run,
            cmd,
            tx,
            config: this.config,
            attempt: attempt.attempts,
            signal,
          });
        });
        await this.repo.markSucceeded(
          tx,
          row.id,
          result.output,
          { durationMs: Math.round(performance.now() - started), ...result.metrics },
          result.compensation ?? null,
        );
        return true;
      });
    } catch (err) {
      stageSeconds.observe(
        { stage: cmd.stage, outcome: 'error' },
        (performance.now() - started) / 1000,
      );
      await Promise.allSettled(announced);
      if (isInfrastructureError(err)) throw err;
      // stopped at a heartbeat: cancelled or past its deadline; nothing of it committed
      const stopped: unknown = signal.reason;
      if (signal.aborted && stopped instanceof StageStopped) {
        await this.recordFailure(cmd, attempt.attempts, stopped, true);
        await this.compensate(cmd, run, stopped.why.reason, stopped.why.status);
        return;
      }
      const final = isPermanentError(err) || attempt.attempts >= maxAttemptsOf(stage, this.config);
      const recorded = await this.recordFailure(cmd, attempt.attempts, err, final);
      if (!final) {
        throw isRetryableError(err)
          ? err
          : new RetryableError(messageOf(err), undefined, { cause: err });
      }
      if (!recorded) {
        // another delivery settled the stage while this one failed: follow what it did
        await Promise.allSettled(announced);
        await this.settled(cmd, run, key);
        return;
      }
      await this.compensate(cmd, run, `${cmd.stage}: ${messageOf(err)}`, 'COMPENSATED');
      return;
    }
    if (!ran) {
      // another delivery settled the stage while this one waited for the row's lock
      await Promise.all(announced);
      await this.settled(cmd, run, key);
      return;
    }
    stageSeconds.observe({ stage: cmd.stage, outcome: 'ok' }, (performance.now() - started) / 1000);
    this.log.info(
      { run_id: run.id, attempt: attempt.attempts, ms: Math.round(performance.now() - started) },
      `stage ${cmd.stage} succeeded`,
    );
    // cancelled, or past its deadline, while this stage worked: the run goes no further
    const after = await this.repo.getRun(run.id);
    const stopped = after && stopOf(after);
    if (stopped) {
      await Promise.all([
        ...announced,
        this.events.publish({ ...this.ev(cmd, attempt.attempts), event: 'stage.succeeded' }),
      ]);
      await this.compensate(cmd, run, stopped.reason, stopped.status);
      return;
    }
    await Promise.all([...announced, this.emitNext(cmd, run, attempt.attempts)]);
  }

  /**
   * A delivery for a run that already ended. When this stage is the one that ended it, the
   * events announcing the end may not have gone out (the process died, or NATS was away,
   * between the commit and the publishes), so they are published again — their msg ids make
   * that a no-op when they did: the last stage re-emits stage.succeeded and run.succeeded;
   * the stage that failed (or that found the run cancelled) starts the compensation again,
   * whose commands and events carry the same msg ids, and whose consumers skip what is
   * already undone. Any other delivery is skipped.
   */
  private async ended(cmd: StageCommand, run: PipelineRun, key: StageKey): Promise<void> {
    const row = await this.repo.getStageRow(key);
    if (run.status === 'SUCCEEDED' && row?.status === 'SUCCEEDED' && !nextStage(cmd)) {
      await this.emitNext(cmd, run, row.attempts);
    } else if (run.status === 'COMPENSATED' && row?.status === 'FAILED') {
      await this.compensate(cmd, run, run.error ?? 'stage failed', 'COMPENSATED');
    } else if (
      (run.status === 'CANCELLED' || run.status === 'COMPENSATED') &&
      (!row || row.status === 'RUNNING')
    ) {
      // the stage that found the run cancelled (or past its deadline) ended it
      await this.compensate(cmd, run, run.error ?? 'stopped', run.status);
    } else {
      this.log.info({ run_id: run.id, status: run.status }, 'run already ended; stage skipped');
    }
  }

  /**
   * A delivery of a stage another delivery already settled: after a success the successor
   * is re-emitted (its msg id makes that a no-op if it went out); after a final failure the
   * compensation is started (again: its msg ids make a repeat a no-op); once the stage was undone (COMPENSATED) nothing is done —
   * running it again would redo an effect that compensation removed.
   */
  private async settled(cmd: StageCommand, run: PipelineRun, key: StageKey): Promise<void> {
    const row = await this.repo.getStageRow(key);
    if (row?.status === 'SUCCEEDED') {
      this.log.info({ run_id: run.id }, 'stage already succeeded; re-emitting its successor');
      await this.emitNext(cmd, run, 0);
    } else if (row?.status === 'FAILED') {
      await this.compensate(cmd, run, row.error ?? 'stage failed', 'COMPENSATED');
    } else {
      this.log.info({ run_id: run.id, status: row?.status }, 'stage already undone; skipped');
    }
  }

  /**
   * Starts undoing the run (see CompensationRunner): the routing slip's completed stages,
   * and this one when it completed (a redelivery after its success), in reverse; the run
   * ends `end` (COMPENSATED, or CANCELLED after a cancellation request).
   */
  private async compensate(
    cmd: StageCommand,
    run: PipelineRun,
    reason: string,
    end: 'COMPENSATED' | 'CANCELLED',
  ): Promise<void> {
    const completed = [...(cmd.slip?.completed ?? [])];
    const own = await this.repo.getStageRow({
      runId: cmd.runId,
      stageNum: cmd.stageNum,
      stageName: cmd.stage,
      iteration: cmd.iteration,
    });
    if (
      (own?.status === 'SUCCEEDED' || own?.status === 'COMPENSATED') &&
      !completed.includes(cmd.stage)
    )
      completed.push(cmd.stage);
    await this.compensation.start({
      runId: run.id,
      stage: cmd.stage,
      stageNum: cmd.stageNum,
      iteration: cmd.iteration,
      itinerary: cmd.slip?.itinerary.length ? cmd.slip.itinerary : [...STAGE_NAMES],
      completed,
      reason,
      end,
      classification: run.classification,
    });
  }

  /** Publishes stage.succeeded and then the next stage's command, or run.succeeded after the last. */
  private async emitNext(cmd: StageCommand, run: PipelineRun, attempt: number): Promise<void> {
    const succeeded = this.events.publish({ ...this.ev(cmd, attempt), event: 'stage.succeeded' });
    const next = nextStage(cmd);
    if (!next) {
      await Promise.all([
        succeeded,
        this.events.publish({
          ...this.ev(cmd, attempt),
          event: 'run.succeeded',
          status: RunStatus.SUCCEEDED,
        }),
      ]);
      return;
    }
    const completed = [...(cmd.slip?.completed ?? []), cmd.stage];
    const nextCmd = stageCommand(
      { runId: run.id, action: run.action, group: cmd.group, seed: cmd.seed },
      next,
      cmd.iteration,
      completed,
    );
    await Promise.all([
      succeeded,
      this.bus.publish(
        stageSubject(next),
        { schema: StageCommandSchema, message: nextCmd },
        { msgId: stageMsgId(run.id, next, cmd.iteration), classification: run.classification },
      ),
    ]);
  }

  /** Records the failed attempt on the stage row and as a stage.failed event. */
  private async recordFailure(
    cmd: StageCommand,
    attempt: number,
    err: unknown,
    final: boolean,
  ): Promise<boolean> {
    const message = messageOf(err);
    this.log.warn({ run_id: cmd.runId, attempt, final, err }, `stage ${cmd.stage} failed`);
    const key = {
      runId: cmd.runId,
      stageNum: cmd.stageNum,
      stageName: cmd.stage,
      iteration: cmd.iteration,
    };
    const recorded = await this.repo.recordFailure(key, message, final);
    await this.events.publish({
      ...this.ev(cmd, attempt),
      event: 'stage.failed',
      error: message,
      detail: { final },
    });
    return recorded;
  }

  private ev(cmd: StageCommand, attempt: number) {
    return {
      runId: cmd.runId,
      stage: cmd.stage,
      stageNum: cmd.stageNum,
      iteration: cmd.iteration,
      attempt,
    };
  }
}

/** Why a working stage was stopped (its abort reason). */
class StageStopped extends Error {
  constructor(readonly why: { status: 'CANCELLED' | 'COMPENSATED'; reason: string }) {
    super(`stopped: ${why.reason}`);
  }
}

/** Why a run still going must stop: a cancellation request, or its `options.deadlineMs` passed. */
function stopOf(
  run: PipelineRun,
): { status: 'CANCELLED' | 'COMPENSATED'; reason: string } | undefined {
  // a run that ended (monitor closed it SUCCEEDED, say) is past stopping
  if (run.status !== 'PENDING' && run.status !== 'RUNNING') return undefined;
  if (run.cancel_requested_at) return { status: 'CANCELLED', reason: 'cancelled on request' };
  const deadlineMs = (run.options as { deadlineMs?: unknown }).deadlineMs;
  if (typeof deadlineMs === 'number' && Date.now() > run.created_at.getTime() + deadlineMs) {
    return { status: 'COMPENSATED', reason: `deadline of ${deadlineMs} ms exceeded` };
  }
  return undefined;
}
