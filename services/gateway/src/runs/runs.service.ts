import { create } from '@bufbuild/protobuf';
import { type GatewayConfig, MAX_RUN_INPUT_BYTES } from '@heady/config';
import {
  ErrorCode,
  HeadyError,
  RunEndedError,
  RunNotFoundError,
  RunStatus,
  StartRunRequestSchema,
} from '@heady/contracts';
import { type ApiKeyPrincipal } from '@heady/db';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import canonicalizeCjs from 'canonicalize';
import { createHash } from 'node:crypto';
import { ConductorClient } from './conductor.client.js';
import { RunEventsRepository } from './run-events.repository.js';
import { RunsReadRepository } from './runs.repository.js';
import { type PipelineRun, type StageRun } from '@heady/db';
import { type z } from 'zod';
import {
  type ListRunsQuery,
  RUN_STATUSES,
  type RunList,
  type RunSummary,
  type RunView,
  type StartRunBody,
  type runAccepted,
  type runCancelled,
} from './runs.schema.js';
import { badCursor, decodeCursor, encodeCursor } from './run-cursor.js';

/** What `POST /api/runs` answers. */
export type RunAccepted = z.infer<typeof runAccepted>;
export type { RunView };

// canonicalize is CommonJS (`module.exports = fn`) but its types declare a default export,
// which NodeNext reads as `{ default }`; at run time the default import is the function.
const canonicalize = canonicalizeCjs as unknown as (input: unknown) => string | undefined;

/** The statuses a run ends in. */
const ENDED: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED']);

/** SHA-256 of the body in RFC 8785 canonical form: the same request hashes the same whatever its key order. */
export function requestHash(body: StartRunBody): string {
  return createHash('sha256')
    .update(canonicalize(body) ?? '')
    .digest('hex');
}

/** Who starts a run and through which route: the run's organization and its Idempotency-Key scope. */
export interface RunStarter {
  principal: ApiKeyPrincipal;
  /** The route the router matched: `POST /api/runs`. */
  route: string;
}

/**
 * Runs as the REST API sees them: each belongs to the organization whose key started it,
 * and every read, cancel and stream is scoped to the caller's organization — another
 * organization's run is RUN_NOT_FOUND, exactly like one that does not exist.
 */
@Injectable()
export class RunsService {
  constructor(
    @Inject(ConductorClient) private readonly conductor: ConductorClient,
    @Inject(RunsReadRepository) private readonly runs: RunsReadRepository,
    @Inject(RunEventsRepository) private readonly events: RunEventsRepository,
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /**
   * Asks the conductor to start the run for `by`'s organization (request/reply); its domain
   * errors come back typed (FORBIDDEN with `requiredPlan` when the plan may not start the action).
   */
  async start(
    body: StartRunBody,
    idempotencyKey: string | undefined,
    by: RunStarter,
  ): Promise<RunAccepted & { replayed: boolean }> {
    if (body.options?.faults !== undefined && !this.config.faults) {
      throw new HeadyError(
        ErrorCode.ValidationFailed,
        'options.faults: fault injection is disabled on this deployment (HEADY_FAULTS=1 enables it)',
        { errors: [{ path: 'body.options.faults', message: 'fault injection is disabled' }] },
      );
    }
    // ingest would fail the run for it: refuse it before the run exists
    const inputBytes = Buffer.byteLength(JSON.stringify(body.input));
    if (inputBytes > MAX_RUN_INPUT_BYTES) {
      throw new HeadyError(
        ErrorCode.PayloadTooLarge,
        `input is ${inputBytes} bytes of JSON; a run's input may have ${MAX_RUN_INPUT_BYTES}`,
        { limit: MAX_RUN_INPUT_BYTES, size: inputBytes },
      );
    }
    const req = create(StartRunRequestSchema, {
      action: body.action,
      input: body.input as never,
      sessionId: body.sessionId ?? '',
      options: (body.options ?? {}) as never,
      idempotencyKey: idempotencyKey ?? '',
      requestHash: requestHash(body),
      orgId: by.principal.orgId,
      apiKeyId: by.principal.keyId,
      route: by.route,
      plan: by.principal.plan,
    });
    const reply = await this.conductor.startRun(req);
    this.log.info(
      { run_id: reply.runId, action: body.action, group: reply.group, replayed: reply.replayed },
      'run accepted',
    );
    const status = RUN_STATUSES.find((x) => x === RunStatus[reply.status]);
    if (status === undefined) throw new Error(`conductor answered run status ${reply.status}`);
    return {
      runId: reply.runId,
      status,
      links: this.links(reply.runId),
      replayed: reply.replayed,
    };
  }

  /**
   * Asks for the run to stop: its next stage compensates what completed and ends it
   * CANCELLED. Asking again is harmless; asking after it ended another way is RUN_ENDED.
   */
  async cancel(id: string, orgId: string): Promise<z.infer<typeof runCancelled>> {
    const status = await this.runs.requestCancel(id, orgId);
    if (status === undefined) throw new RunNotFoundError(id);
    if (status === 'SUCCEEDED' || status === 'FAILED' || status === 'COMPENSATED') {
      throw new RunEndedError(id, status);
    }
    this.log.info({ run_id: id, status }, 'run cancellation requested');
    return { runId: id, status: status === 'CANCELLED' ? 'CANCELLED' : 'CANCELLING' };
  }

  /**
   * Run `id` of `orgId` once it has ended, waiting at most `waitMs`: its status is read again
   * as soon as one of the run's own events (`runs.<id>.run.*`) is published, and otherwise
   * every 10 ms doubling to 1 s; undefined when it is still going, or the caller went away.
   */
  async awaitEnd(
    id: string,
    orgId: string,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<RunView | undefined> {
    const deadline = Date.now() + waitMs;
    const nudges = this.events.endNudges(id);
    try {
      for (let pause = 10; ; pause = Math.min(pause * 2, 1_000)) {
        const status = await this.runs.status(id, orgId);
        if (status === undefined) throw new RunNotFoundError(id);
        if (ENDED.has(status)) return await this.get(id, orgId);
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return undefined;
        await nudges.wait(Math.min(pause, left), signal).catch(() => undefined);
      }
    } finally {
      nudges.close();
    }
  }

  /** Run `id` of `orgId`, with its stages, their compensation, its error and trace id. */
  async get(id: string, orgId: string): Promise<RunView> {
    const found = await this.runs.findWithStages(id, orgId);
    if (!found) throw new RunNotFoundError(id);
    const { run, stages } = found;
    return {
      ...runHead(run),
      traceId: run.trace_id,
      stages: stages.map(stageView),
      result: run.result,
      createdAt: run.created_at.toISOString(),
      finishedAt: run.finished_at?.toISOString() ?? null,
    };
  }

  /**
   * A page of `orgId`'s runs, newest first. The cursor names the last run of the previous
   * page; one that does not decode, or names no run of `orgId`, is VALIDATION_FAILED.
   */
  async list(orgId: string, q: ListRunsQuery): Promise<RunList> {
    const afterId = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const rows = await this.runs.list(orgId, {
      ...(q.status ? { status: q.status } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.since ? { since: new Date(q.since) } : {}),
      ...(q.until ? { until: new Date(q.until) } : {}),
      ...(afterId === undefined ? {} : { afterId }),
      // one more than asked: whether a next page exists without counting
      limit: q.limit + 1,
    });
    if (rows === undefined) throw badCursor();
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => this.summary(r)),
      nextCursor: rows.length > q.limit && last ? encodeCursor(last.id) : null,
    };
  }

  private summary(run: PipelineRun): RunSummary {
    return {
      ...runHead(run),
      createdAt: run.created_at.toISOString(),
      finishedAt: run.finished_at?.toISOString() ?? null,
      links: { self: this.links(run.id).self },
    };
  }

  /** Throws RUN_NOT_FOUND unless run `id` exists and belongs to `orgId` (before a stream opens). */
  async assertVisible(id: string, orgId: string): Promise<void> {
    if (!(await this.runs.exists(id, orgId))) throw new RunNotFoundError(id);
  }

  private links(runId: string): RunAccepted['links'] {
    return { self: `/api/runs/${runId}`, events: `/api/runs/${runId}/events` };
  }
}

/** What a run's summary and its full view begin with. */
function runHead(
  run: PipelineRun,
): Pick<RunSummary, 'runId' | 'action' | 'group' | 'status' | 'error'> {
  return {
    runId: run.id,
    action: run.action,
    group: run.service_group,
    status: run.status,
    error: run.error,
  };
}

/** A stage execution as the REST API shows it, with the state of its compensation. */
function stageView(s: StageRun): RunView['stages'][number] {
  const undone = s.compensated_at !== null || s.status === 'COMPENSATED';
  return {
    num: s.stage_num,
    name: s.stage_name,
    iteration: s.iteration,
    status: s.status,
    attempts: s.attempts,
    startedAt: s.started_at.toISOString(),
    finishedAt: s.finished_at?.toISOString() ?? null,
    error: s.error,
    compensation: {
      state: undone ? 'DONE' : s.compensation_attempts > 0 ? 'PENDING' : 'NONE',
      attempts: s.compensation_attempts,
      compensatedAt: s.compensated_at?.toISOString() ?? null,
      error: s.compensation_error,
    },
  };
}
