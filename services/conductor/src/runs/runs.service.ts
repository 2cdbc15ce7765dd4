import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { BusPublisher, eventMsgId, stageMsgId } from '@heady/bus';
import {
  type Classification,
  ErrorCode,
  ForbiddenError,
  HeadyError,
  IdempotencyConflictError,
  RunEventSchema,
  RunStatus,
  StageCommandSchema,
  type StartRunReply,
  type StartRunRequest,
  runEventSubject,
  stageCommand,
  isClassification,
  isPlan,
  stageSubject,
} from '@heady/contracts';
import { type PipelineRun, type Plan, planAllows, requiredPlanFor } from '@heady/db';
import { type Logger } from '@heady/telemetry';
import { LOGGER } from '@heady/runtime';
import { trace } from '@opentelemetry/api';
import { Inject, Injectable } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { AuditService } from '../audit/audit.service.js';
import { RoutingService } from '../routing/routing.service.js';
import { BudgetsRepository } from './budgets.repository.js';
import { type RequestScope, RunsRepository } from './runs.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A plan name from the request; anything else is the most restricted plan (fail closed). */
function planOf(plan: string): Plan {
  return isPlan(plan) ? plan : 'FREE';
}

/** The organization, API key and route the request came from; a run without an organization is refused. */
function scopeOf(req: StartRunRequest): RequestScope {
  if (!UUID.test(req.orgId))
    throw new HeadyError(ErrorCode.ValidationFailed, 'a run needs the organization it belongs to', {
      errors: [{ path: 'orgId', message: 'a UUID is required' }],
    });
  return {
    orgId: req.orgId,
    apiKeyId: UUID.test(req.apiKeyId) ? req.apiKeyId : null,
    route: req.route || null,
  };
}

function classificationOf(options: Record<string, unknown>): Classification {
  const c = options.classification;
  return isClassification(c) ? c : 'INTERNAL';
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
    @Inject(BudgetsRepository) private readonly budgets: BudgetsRepository,
  ) {}

  async start(req: StartRunRequest): Promise<StartRunReply> {
    const scope = scopeOf(req);
    const route = await this.routing.resolve(req.action);
    // the plan gate is here, where every run starts, so no route can start what the plan forbids
    const plan = planOf(req.plan);
    if (!planAllows(plan, req.action)) {
      const required = requiredPlanFor(req.action);
      throw new ForbiddenError(
        `the action "${req.action}" needs the ${required} plan; this organization is on ${plan}`,
        { requiredPlan: required, plan, action: req.action },
      );
    }
    const key = req.idempotencyKey || null;
    if (key) {
      const existing = await this.runs.findByRequestId(key, scope);
      if (existing) return this.replay(existing, key, req.requestHash);
    }
    const options = (req.options ?? {}) as Record<string, unknown>;
    const id = randomUUID();
    // the budget step, before the run exists: a refusal is the client's 402, not a failed run
    const reserved = await this.budgets.hasBudget(scope.orgId);
    if (reserved) await this.budgets.reserve(scope.orgId, id, req.action);
    const run = await this.insertReserved(reserved, scope.orgId, id, {
      id,
      workflow_id: 'hcfullpipeline',
      org_id: scope.orgId,
      api_key_id: scope.apiKeyId,
      request_route: scope.route,
      request_id: key,
      request_hash: req.requestHash || null,
      seed: seedOf(options),
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
      const winner = key ? await this.runs.findByRequestId(key, scope) : undefined;
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

  /** Stores the run; a reservation made for a run that was not stored is released. */
  private async insertReserved(
    reserved: boolean,
    orgId: string,
    id: string,
    row: Parameters<RunsRepository['insertPending']>[0],
  ): Promise<PipelineRun | undefined> {
    const release = (): Promise<void> =>
      this.budgets
        .release(orgId, id)
        .catch((err: unknown) =>
          this.log.warn({ err, run_id: id }, 'reservation not released; the billing sweep will'),
        );
    try {
      const run = await this.runs.insertPending(row);
      if (!run && reserved) await release();
      return run;
    } catch (e) {
      if (reserved) await release();
      throw e;
    }
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

  /**
   * Ends a run that was never admitted FAILED, and says so on `runs.<runId>.run.failed` like
   * the pipeline does for the runs it ends, so the run's event stream ends too. The event is
   * best effort: when the bus that refused the command refuses it as well, the row is the
   * record and an open stream ends at its idle timeout.
   */
  private async fail(run: PipelineRun, error: string): Promise<void> {
    if (!(await this.runs.failPending(run.id, error))) return;
    const message = create(RunEventSchema, {
      runId: run.id,
      event: 'run.failed',
      stage: 'channel-entry',
      stageNum: 0,
      attempt: 0,
      status: RunStatus.FAILED,
      error,
      detail: { reason: 'admission' },
      at: timestampNow(),
    });
    await this.bus
      .publish(
        runEventSubject(run.id, 'run.failed'),
        { schema: RunEventSchema, message },
        { msgId: eventMsgId(run.id, 'run.failed', 'admission') },
      )
      .catch((err: unknown) =>
        this.log.error(
          { err, run_id: run.id },
          'could not publish run.failed of a failed admission',
        ),
      );
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
      if (failOnError) await this.fail(run, 'the first stage command could not be published');
      throw new HeadyError(
        ErrorCode.Unavailable,
        'the run could not be started: the bus is unavailable; retry',
        { runId: run.id },
        { cause: err },
      );
    }
  }
}
