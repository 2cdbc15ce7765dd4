import { BusPublisher, stageMsgId } from '@heady/bus';
import {
  ErrorCode,
  HeadyError,
  IdempotencyConflictError,
  RunStatus,
  StageCommandSchema,
  type StartRunReply,
  type StartRunRequest,
  stageCommand,
  stageSubject,
} from '@heady/contracts';
import { type PipelineRun } from '@heady/db';
import { type Logger } from '@heady/telemetry';
import { LOGGER } from '@heady/runtime';
import { trace } from '@opentelemetry/api';
import { Inject, Injectable } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { AuditService } from '../audit/audit.service.js';
import { RoutingService } from '../routing/routing.service.js';
import { RunsRepository } from './runs.repository.js';

const CLASSIFICATIONS = ['PUBLIC', 'INTERNAL', 'PROPRIETARY', 'RESTRICTED'] as const;
type Classification = (typeof CLASSIFICATIONS)[number];

function classificationOf(options: Record<string, unknown>): Classification {
  const c = options.classification;
  return typeof c === 'string' && (CLASSIFICATIONS as readonly string[]).includes(c)
    ? (c as Classification)
    : 'INTERNAL';
}

/** A caller-supplied seed (so simulations replay) or a random one that fits a BIGINT. */
function seedOf(options: Record<string, unknown>): bigint {
  const s = options.seed;
  if (typeof s === 'number' && Number.isSafeInteger(s)) return BigInt(s);
  if (typeof s === 'string' && /^-?\d{1,18}$/.test(s)) return BigInt(s);
  return BigInt(randomInt(0, 2 ** 48 - 1));
}

const STATUS: Record<PipelineRun['status'], RunStatus> = {
  PENDING: RunStatus.PENDING,
  RUNNING: RunStatus.RUNNING,
  SUCCEEDED: RunStatus.SUCCEEDED,
  FAILED: RunStatus.FAILED,
  COMPENSATED: RunStatus.COMPENSATED,
  CANCELLED: RunStatus.CANCELLED,
};

/**
 * Admits a run: routes its action to a service group (audited), claims the idempotency
 * key by writing the run PENDING, and publishes the channel-entry command. Writing the
 * row here, synchronously, is what lets the gateway answer 202 truthfully: the run is
 * readable at once and a reused key with another body is refused before anything runs.
 */
@Injectable()
export class RunsService {
  constructor(
    @Inject(RoutingService) private readonly routing: RoutingService,
    @Inject(RunsRepository) private readonly runs: RunsRepository,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async start(req: StartRunRequest): Promise<StartRunReply> {
    const route = await this.routing.resolve(req.action);
    const key = req.idempotencyKey || null;
    if (key) {
      const existing = await this.runs.findByRequestId(key);
      if (existing) return this.replay(existing, key, req.requestHash);
    }
    const options = (req.options ?? {}) as Record<string, unknown>;
    const run = await this.runs.insertPending({
      id: randomUUID(),
      workflow_id: 'hcfullpipeline',
      request_id: key,
      request_hash: req.requestHash || null,
      seed: seedOf(options),
      status: 'PENDING',
      action: req.action,
      service_group: route.group,
      input: req.input ?? {},
      options,
      session_id: req.sessionId || null,
      classification: classificationOf(options),
      trace_id: trace.getActiveSpan()?.spanContext().traceId ?? null,
      error: null,
    });
    if (!run) {
      // Lost the race for this key to a concurrent request: answer as that request did.
      const winner = key ? await this.runs.findByRequestId(key) : undefined;
      if (!winner || !key)
        throw new HeadyError(ErrorCode.Unavailable, 'run could not be stored; retry');
      return this.replay(winner, key, req.requestHash);
    }
    await Promise.all([
      this.audit.routingDecision({
        runId: run.id,
        action: run.action,
        group: route.group,
        weight: route.weight,
        layer: 'task-router',
        replayed: false,
      }),
      this.publishEntry(run, !key),
    ]);
    this.log.info({ run_id: run.id, action: run.action, group: route.group }, 'run admitted');
    return {
      $typeName: 'heady.v1.StartRunReply',
      runId: run.id,
      status: RunStatus.PENDING,
      group: route.group,
      replayed: false,
    };
  }

  private async replay(run: PipelineRun, key: string, requestHash: string): Promise<StartRunReply> {
    if (run.request_hash !== (requestHash || null)) throw new IdempotencyConflictError(key, run.id);
    // A run still PENDING may have lost its first command (crash between insert and publish);
    // publishing again is safe: JetStream drops it if the original made it.
    if (run.status === 'PENDING') await this.publishEntry(run, false);
    return {
      $typeName: 'heady.v1.StartRunReply',
      runId: run.id,
      status: STATUS[run.status],
      group: run.service_group,
      replayed: true,
    };
  }

  private async publishEntry(run: PipelineRun, failOnError: boolean): Promise<void> {
    const cmd = stageCommand(
      { runId: run.id, action: run.action, group: run.service_group, seed: BigInt(run.seed) },
      'channel-entry',
      0,
      [],
    );
    try {
      await this.bus.publish(
        stageSubject('channel-entry'),
        { schema: StageCommandSchema, message: cmd },
        // the run's classification is signed into the command; RESTRICTED ones are sealed
        // to the pipeline's epoch KEM key
        { msgId: stageMsgId(run.id, 'channel-entry', 0), classification: run.classification },
      );
    } catch (err) {
      this.log.error({ err, run_id: run.id }, 'could not publish channel-entry command');
      // Without an idempotency key the client cannot safely retry this run, so end it;
      // with one, a retry of the same request re-publishes the command.
      if (failOnError)
        await this.runs.failPending(run.id, 'the first stage command could not be published');
      throw new HeadyError(
        ErrorCode.Unavailable,
        'the run could not be started: the bus is unavailable; retry',
        { runId: run.id },
        { cause: err },
      );
    }
  }
}
