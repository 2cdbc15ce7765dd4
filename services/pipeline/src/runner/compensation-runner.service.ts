import {
  BusPublisher,
  type JetStreamContext,
  backoffFor,
  compensationMsgId,
  isPermanentError,
  PermanentError,
  RetryableError,
} from '@heady/bus';
import { type PipelineConfig } from '@heady/config';
import {
  type CompensationCommand,
  CompensationCommandSchema,
  type CompensationRef,
  RunStatus,
  compensationCommand,
  compensationSubject,
  isStageName,
  stageNum,
  STAGE_NAMES,
} from '@heady/contracts';
import { type PipelineRun } from '@heady/db';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter, withLogContext } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { STAGES } from '../stages/index.js';
import { StageReads } from '../stages/stage-reads.repository.js';
import { maxAttemptsOf } from '../stages/stage.js';
import { faultsOf, injectCompensationFaults } from './faults.js';
import { messageOf, outageAsRetry, withTimeout } from './handler-errors.js';
import { isUnavailable } from '@heady/contracts';
import { RunEvents } from './run-events.js';
import { COMPENSATION_FAILED, StageRunsRepository } from './stage-runs.repository.js';

const compensations = counter(
  'heady_stage_compensations_total',
  'Compensation attempts, per stage and outcome',
  ['stage', 'outcome'],
);

/** How a run came to be undone: what the first compensation command carries. */
export interface CompensationStart {
  /** The stage command whose failure, deadline or cancellation starts the compensation. */
  runId: string;
  stage: string;
  stageNum: number;
  iteration: number;
  itinerary: readonly string[];
  /** The routing slip's completed stages (the stage itself included when it completed). */
  completed: readonly string[];
  reason: string;
  end: 'COMPENSATED' | 'CANCELLED';
  classification: PipelineRun['classification'];
}

/**
 * Compensation as durable commands. A run is undone by walking its routing slip backwards:
 * one `CompensationCommand` per completed stage on `pipeline.compensate.<stage>`, consumed
 * by the durable `compensate-<stage>` in whichever process runs that stage. Each undoes its
 * stage exactly once (row lock; effects commit with the COMPENSATED mark), retries transient
 * failures with the stage's backoff via `nak(delay)`, and publishes the command for the stage
 * before it; the first stage ends the run COMPENSATED or CANCELLED. A compensation that fails
 * permanently, or on its last attempt, ends the run FAILED and goes to DLQ with its reason;
 * redriven (`heady dlq redrive`), it carries on where it stopped.
 */
@Injectable()
export class CompensationRunner {
  constructor(
    @Inject(StageRunsRepository) private readonly repo: StageRunsRepository,
    @Inject(RunEvents) private readonly events: RunEvents,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: PipelineConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /**
   * Starts undoing a run: `run.compensating`, then the command for the last completed stage
   * (msg id `<run>:<stage>:<iteration>:compensate`, so a redelivered failing stage publishes
   * it once), or, with nothing completed, the run's end at once.
   */
  async start(s: CompensationStart): Promise<void> {
    await this.events.publish({
      runId: s.runId,
      stage: s.stage,
      stageNum: s.stageNum,
      iteration: s.iteration,
      attempt: 0,
      event: 'run.compensating',
      error: s.reason,
    });
    const ref: CompensationRef = {
      runId: s.runId,
      iteration: s.iteration,
      itinerary: s.itinerary,
      end: s.end === 'CANCELLED' ? RunStatus.CANCELLED : RunStatus.COMPENSATED,
      reason: s.reason,
      failedStage: s.stage,
    };
    const first = compensationCommand(ref, s.completed);
    if (!first) {
      await this.finish(ref);
      return;
    }
    await this.publish(first, s.classification);
  }

  handle(cmd: CompensationCommand, ctx: JetStreamContext): Promise<void> {
    return withLogContext({ runId: cmd.runId, stage: cmd.stage }, () =>
      ctx.whileWorking(async () => {
        try {
          await this.run(cmd);
        } catch (err) {
          throw outageAsRetry(err, this.log, cmd.runId);
        }
      }),
    );
  }

  private async run(cmd: CompensationCommand): Promise<void> {
    if (!isStageName(cmd.stage)) throw new PermanentError(`unknown stage "${cmd.stage}"`);
    const stage = STAGES[cmd.stage];
    const run = await this.repo.getRun(cmd.runId);
    if (!run) throw new PermanentError(`run ${cmd.runId} does not exist`);
    if (run.status === 'SUCCEEDED') {
      this.log.warn({ run_id: run.id }, 'compensation of a run that succeeded; skipped');
      return;
    }
    const row = await this.repo.latestStageRow(cmd.runId, stageNum(stage.name), cmd.iteration);
    if (!row) {
      this.log.warn({ run_id: run.id }, `stage ${cmd.stage} never ran; nothing to undo`);
    } else {
      const attempt = await this.repo.beginCompensationAttempt(row.id);
      if (attempt !== undefined) {
        const faults = this.config.faults ? faultsOf(run.options) : [];
        try {
          const done = await this.repo.compensateOnce(
            row.id,
            this.config.instanceId,
            async (tx, data) => {
              injectCompensationFaults(faults, stage.name, attempt, this.config.faultsMayKill);
              await withTimeout(stage.timeoutMs, `compensation of ${stage.name}`, () =>
                stage.compensate(data, {
                  run,
                  reads: new StageReads(tx, run.id),
                  state: this.repo.runHandle(tx, run.id),
                  config: this.config,
                }),
              );
            },
          );
          if (done) {
            compensations.inc({ stage: stage.name, outcome: 'ok' });
            this.log.info({ run_id: run.id, attempt }, `stage ${stage.name} compensated`);
          }
        } catch (err) {
          if (isUnavailable(err)) throw err;
          await this.failed(cmd, run, row.id, attempt, err);
        }
      }
    }
    const ref = refOf(cmd);
    const next = compensationCommand(ref, (cmd.slip?.completed ?? [cmd.stage]).slice(0, -1));
    if (row) {
      await this.events.publish({
        runId: run.id,
        stage: row.stage_name,
        stageNum: row.stage_num,
        iteration: row.iteration,
        attempt: row.attempts,
        event: 'stage.compensated',
      });
    }
    if (next) await this.publish(next, run.classification);
    else await this.finish(ref);
  }

  /**
   * A failed compensation attempt: retried (`nak` after the stage's backoff) until the
   * stage's attempts run out; a permanent or last failure ends the run FAILED and sends
   * this command to DLQ with the reason.
   */
  private async failed(
    cmd: CompensationCommand,
    run: PipelineRun,
    rowId: string,
    attempt: number,
    err: unknown,
  ): Promise<never> {
    const stage = STAGES[cmd.stage as keyof typeof STAGES];
    const message = messageOf(err);
    const final = isPermanentError(err) || attempt >= maxAttemptsOf(stage, this.config);
    compensations.inc({ stage: stage.name, outcome: final ? 'failed' : 'retry' });
    this.log.warn({ run_id: run.id, attempt, final, err }, `compensation of ${stage.name} failed`);
    await this.repo.recordCompensationFailure(rowId, message);
    if (!final) {
      throw new RetryableError(message, backoffFor(stage.retry.backoff, attempt), { cause: err });
    }
    const why = `${COMPENSATION_FAILED}${stage.name} failed: ${message}`;
    if (await this.repo.endRun(run.id, 'FAILED', why)) {
      await this.events.publish({
        runId: run.id,
        stage: cmd.failedStage || cmd.stage,
        stageNum: stageNumOf(cmd.failedStage || cmd.stage),
        iteration: cmd.iteration,
        attempt: 0,
        event: 'run.failed',
        status: RunStatus.FAILED,
        error: why,
      });
    }
    throw new PermanentError(why, { cause: err });
  }

  /** Every completed stage is undone: the run ends COMPENSATED or CANCELLED. */
  private async finish(ref: CompensationRef): Promise<void> {
    const end = ref.end === RunStatus.CANCELLED ? 'CANCELLED' : 'COMPENSATED';
    if (await this.repo.endCompensation(ref.runId, end, ref.reason)) {
      this.log.info({ run_id: ref.runId, reason: ref.reason }, `run ${end.toLowerCase()}`);
    }
    await this.events.publish({
      runId: ref.runId,
      stage: ref.failedStage,
      stageNum: stageNumOf(ref.failedStage),
      iteration: ref.iteration,
      attempt: 0,
      event: end === 'CANCELLED' ? 'run.cancelled' : 'run.compensated',
      status: ref.end,
      error: ref.reason,
    });
  }

  private async publish(
    cmd: CompensationCommand,
    classification: PipelineRun['classification'],
  ): Promise<void> {
    if (!isStageName(cmd.stage)) throw new PermanentError(`unknown stage "${cmd.stage}"`);
    await this.bus.publish(
      compensationSubject(cmd.stage),
      { schema: CompensationCommandSchema, message: cmd },
      { msgId: compensationMsgId(cmd.runId, cmd.stage, cmd.iteration), classification },
    );
  }
}

function refOf(cmd: CompensationCommand): CompensationRef {
  return {
    runId: cmd.runId,
    iteration: cmd.iteration,
    itinerary: cmd.slip?.itinerary.length ? cmd.slip.itinerary : [...STAGE_NAMES],
    end: cmd.end === RunStatus.CANCELLED ? RunStatus.CANCELLED : RunStatus.COMPENSATED,
    reason: cmd.reason,
    failedStage: cmd.failedStage || cmd.stage,
  };
}

function stageNumOf(stage: string): number {
  return isStageName(stage) ? stageNum(stage) : 0;
}
