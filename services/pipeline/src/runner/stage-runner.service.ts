import {
  BusPublisher,
  type JetStreamContext,
  isRetryableError,
  PermanentError,
  RetryableError,
  stageMsgId,
} from '@heady/bus';
import { type PipelineConfig } from '@heady/config';
import {
  RunStatus,
  type StageCommand,
  type StageName,
  StageCommandSchema,
  isStageName,
  isUnavailable,
  nextStage,
  stageCommand,
  stageSubject,
  STAGE_NAMES,
} from '@heady/contracts';
import { type PipelineRun } from '@heady/db';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, histogram, withLogContext } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { STAGES } from '../stages/index.js';
import { BusContextRetrieval } from './context-retrieval.js';
import { TaskFanOut } from './task-fan-out.js';
import { StageReads } from '../stages/stage-reads.repository.js';
import { maxAttemptsOf } from '../stages/stage.js';
import { CompensationRunner } from './compensation-runner.service.js';
import { faultsOf, injectFaults } from './faults.js';
import { messageOf, outageAsRetry, withTimeout } from './handler-errors.js';
import { RunEvents } from './run-events.js';
import {
  type Decision,
  type RunEnd,
  type StageRowState,
  type Stop,
  decide,
  decideAfterSuccess,
  decideFailure,
  settledOrRun,
  stopOf,
} from './stage-decision.js';
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
  ) {
    this.context = new BusContextRetrieval(bus, config.context);
  }

  private readonly context: BusContextRetrieval;

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
              const why = r && stopOf(r, Date.now());
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

  /**
   * The executor: reads the run and the stage's row and claims the attempt in one statement
   * (`claimAttempt`), asks `decide` what to do, and does it. Every branch of what a delivery
   * may lead to lives in `stage-decision.ts` (pure, table tested); this only performs the
   * reads, writes and publishes.
   */
  private async run(cmd: StageCommand, signal: AbortSignal): Promise<void> {
    const key: StageKey = {
      runId: cmd.runId,
      stageNum: cmd.stageNum,
      stageName: cmd.stage,
      iteration: cmd.iteration,
    };
    const now = Date.now();
    // the claim takes an attempt exactly when `decide` says `run` (see claimAttempt); an
    // unknown stage, which decide rejects whatever the run, claims nothing
    const { run, row, attempt } = isStageName(cmd.stage)
      ? await this.repo.claimAttempt(key, now)
      : { run: undefined, row: undefined, attempt: undefined };
    const decision = decide({ cmd, run, row, now });
    if (decision.kind !== 'run' || !run) return this.follow(decision, cmd, run, row);
    if (attempt === undefined) {
      // another delivery settled the stage between the read and the claim: follow what it did
      await this.settled(cmd, run, key);
      return;
    }
    await this.attempt(cmd, run, key, attempt, signal);
  }

  /** Does what `decide` said, for every decision but `run`. */
  private async follow(
    d: Decision,
    cmd: StageCommand,
    run: PipelineRun | undefined,
    row: StageRowState | undefined,
  ): Promise<void> {
    switch (d.kind) {
      case 'reject':
        throw new PermanentError(d.reason);
      case 're-announce':
        if (!run) return;
        if (d.attempt === 0) {
          this.log.info({ run_id: run.id }, 'stage already succeeded; re-emitting its successor');
        }
        await this.emitNext(cmd, run, d.attempt);
        return;
      case 'compensate':
        if (run) await this.compensate(cmd, run, d.reason, d.end, row);
        return;
      case 'skip':
        this.log.info({ run_id: cmd.runId, status: run?.status, row: row?.status }, d.reason);
        return;
      case 'run':
        return;
    }
  }

  /** One attempt of the stage's work: it and its SUCCEEDED mark commit together. */
  private async attempt(
    cmd: StageCommand,
    run: PipelineRun,
    key: StageKey,
    attempt: number,
    signal: AbortSignal,
  ): Promise<void> {
    const stage = STAGES[cmd.stage as StageName];
    const faults = this.config.faults ? faultsOf(run.options) : [];
    // Published without waiting: messages on one connection reach JetStream in the order
    // sent, so subscribers still see started before succeeded; their acks are awaited below.
    const announced: Promise<void>[] = [];
    if (cmd.stage === 'channel-entry' && attempt === 1) {
      announced.push(this.events.publish({ ...this.ev(cmd, attempt), event: 'run.started' }));
    }
    announced.push(this.events.publish({ ...this.ev(cmd, attempt), event: 'stage.started' }));
    // a failed publish surfaces through Promise.all below; this only silences the early rejection
    for (const p of announced) p.catch(() => undefined);

    const started = performance.now();
    let ran: boolean | undefined;
    try {
      ran = await this.repo.withStageLock(key, async (tx, row) => {
        const result = await withTimeout(stage.timeoutMs, `stage ${stage.name}`, async () => {
          await injectFaults(faults, cmd.stage, attempt, signal, this.config.faultsMayKill);
          const reads = new StageReads(tx, run.id);
          return stage.invoke({
            run,
            cmd,
            reads,
            work: new TaskFanOut(this.bus, reads, run, cmd.iteration, signal),
            context: this.context,
            state: this.repo.runHandle(tx, run.id),
            config: this.config,
            attempt,
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
      const reason: unknown = signal.reason;
      const failure = decideFailure({
        err,
        stopped:
          signal.aborted && reason instanceof StageStopped
            ? reason.why
            : await this.stopSinceHeartbeat(run.id, err),
        attempt,
        maxAttempts: maxAttemptsOf(stage, this.config),
      });
      switch (failure.kind) {
        case 'infrastructure':
          throw err;
        case 'stopped':
          // stopped at a heartbeat: cancelled or past its deadline; nothing of it committed
          await this.recordFailure(cmd, attempt, signal.aborted ? reason : err, true);
          await this.compensate(cmd, run, failure.stop.reason, failure.stop.end);
          return;
        case 'retry':
          await this.recordFailure(cmd, attempt, err, false);
          throw isRetryableError(err)
            ? err
            : new RetryableError(messageOf(err), undefined, { cause: err });
        case 'final':
          if (!(await this.recordFailure(cmd, attempt, err, true))) {
            // another delivery settled the stage while this one failed: follow what it did
            await this.settled(cmd, run, key);
            return;
          }
          await this.compensate(cmd, run, `${cmd.stage}: ${messageOf(err)}`, 'COMPENSATED');
          return;
      }
    }
    if (!ran) {
      // another delivery settled the stage while this one waited for the row's lock
      await Promise.all(announced);
      await this.settled(cmd, run, key);
      return;
    }
    stageSeconds.observe({ stage: cmd.stage, outcome: 'ok' }, (performance.now() - started) / 1000);
    this.log.info(
      { run_id: run.id, attempt, ms: Math.round(performance.now() - started) },
      `stage ${cmd.stage} succeeded`,
    );
    // cancelled, or past its deadline, while this stage worked: the run goes no further
    const after = decideAfterSuccess(await this.repo.getRun(run.id), Date.now());
    if (after.kind === 'compensate') {
      await Promise.all([
        ...announced,
        this.events.publish({ ...this.ev(cmd, attempt), event: 'stage.succeeded' }),
      ]);
      await this.compensate(cmd, run, after.stop.reason, after.stop.end);
      return;
    }
    await Promise.all([...announced, this.emitNext(cmd, run, attempt)]);
  }

  /**
   * A delivery of a stage another delivery settled meanwhile: its fresh row decides (see
   * `settledOrRun`); a row still RUNNING here means nothing is left for this delivery.
   */
  private async settled(cmd: StageCommand, run: PipelineRun, key: StageKey): Promise<void> {
    const row = await this.repo.getStageRow(key);
    const d = settledOrRun(row);
    if (d.kind === 'run') {
      this.log.info({ run_id: run.id, status: row?.status }, 'stage already undone; skipped');
      return;
    }
    await this.follow(d, cmd, run, row);
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
    end: RunEnd,
    row?: StageRowState,
  ): Promise<void> {
    const completed = [...(cmd.slip?.completed ?? [])];
    const own =
      row ??
      (await this.repo.getStageRow({
        runId: cmd.runId,
        stageNum: cmd.stageNum,
        stageName: cmd.stage,
        iteration: cmd.iteration,
      }));
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

  /**
   * Whether the run was cancelled (or passed its deadline) after the last heartbeat looked: a
   * stage whose work failed because of that (execute, whose tasks the workers stopped when the
   * run was cancelled) then ends the run as the heartbeat would have. Not asked when the
   * failure is PostgreSQL or NATS being unreachable.
   */
  private async stopSinceHeartbeat(runId: string, err: unknown): Promise<Stop | undefined> {
    if (isUnavailable(err)) return undefined;
    const run = await this.repo.getRun(runId).catch(() => undefined);
    return run && stopOf(run, Date.now());
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
  constructor(readonly why: Stop) {
    super(`stopped: ${why.reason}`);
  }
}
