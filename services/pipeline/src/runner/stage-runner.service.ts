import {
  BusPublisher,
  type JetStreamContext,
  isPermanentError,
  PermanentError,
  stageMsgId,
} from '@heady/bus';
import { type PipelineConfig } from '@heady/config';
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
 */
@Injectable()
export class StageRunner {
  constructor(
    @Inject(StageRunsRepository) private readonly repo: StageRunsRepository,
    @Inject(RunEvents) private readonly events: RunEvents,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: PipelineConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  handle(cmd: StageCommand, ctx: JetStreamContext): Promise<void> {
    return withLogContext({ runId: cmd.runId, stage: cmd.stage }, () => this.run(cmd, ctx));
  }

  private async run(cmd: StageCommand, ctx: JetStreamContext): Promise<void> {
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
    if (run.status === 'FAILED' || run.status === 'CANCELLED' || run.status === 'COMPENSATED') {
      this.log.info({ run_id: run.id, status: run.status }, 'run already ended; stage skipped');
      return;
    }

    const attempt = await this.repo.beginAttempt(key);
    if (!attempt) {
      this.log.info({ run_id: run.id }, 'stage already succeeded; re-emitting its successor');
      await this.emitNext(cmd, run, 0);
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
    try {
      await this.repo.withStageLock(key, async (tx, row) => {
        const result = await stage.invoke({ run, cmd, tx, config: this.config });
        await this.repo.markSucceeded(tx, row.id, result.output, {
          durationMs: Math.round(performance.now() - started),
          ...result.metrics,
        });
      });
    } catch (err) {
      stageSeconds.observe(
        { stage: cmd.stage, outcome: 'error' },
        (performance.now() - started) / 1000,
      );
      await Promise.allSettled(announced);
      await this.onFailure(cmd, ctx, attempt.attempts, err);
      throw err;
    }
    stageSeconds.observe({ stage: cmd.stage, outcome: 'ok' }, (performance.now() - started) / 1000);
    this.log.info(
      { run_id: run.id, attempt: attempt.attempts, ms: Math.round(performance.now() - started) },
      `stage ${cmd.stage} succeeded`,
    );
    await Promise.all([...announced, this.emitNext(cmd, run, attempt.attempts)]);
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

  /** Records the failed attempt; on the last delivery or a permanent failure, ends the run FAILED. */
  private async onFailure(
    cmd: StageCommand,
    ctx: JetStreamContext,
    attempt: number,
    err: unknown,
  ): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const final = isPermanentError(err) || ctx.deliveryCount >= ctx.maxDeliver;
    this.log.warn({ run_id: cmd.runId, attempt, final, err }, `stage ${cmd.stage} failed`);
    try {
      const key = {
        runId: cmd.runId,
        stageNum: cmd.stageNum,
        stageName: cmd.stage,
        iteration: cmd.iteration,
      };
      await this.repo.recordFailure(key, message, final);
      await this.events.publish({
        ...this.ev(cmd, attempt),
        event: 'stage.failed',
        error: message,
        detail: { final },
      });
      if (final && (await this.repo.failRun(cmd.runId, `${cmd.stage}: ${message}`))) {
        await this.events.publish({
          ...this.ev(cmd, attempt),
          event: 'run.failed',
          status: RunStatus.FAILED,
          error: message,
        });
      }
    } catch (recordErr) {
      // PostgreSQL or NATS is down: the redelivery will record it.
      this.log.warn({ err: recordErr, run_id: cmd.runId }, 'could not record the stage failure');
    }
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
