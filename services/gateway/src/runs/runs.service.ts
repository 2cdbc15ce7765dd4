import { create } from '@bufbuild/protobuf';
import { BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import {
  ErrorCode,
  HeadyError,
  RunEndedError,
  RunNotFoundError,
  RunStatus,
  StartRunReplySchema,
  StartRunRequestSchema,
} from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import canonicalizeCjs from 'canonicalize';
import { createHash } from 'node:crypto';
import { RunsReadRepository } from './runs.repository.js';
import { type StartRunBody } from './runs.schema.js';

/** What `POST /api/runs` answers. */
export interface RunAccepted {
  runId: string;
  status: string;
  links: { self: string; events: string };
}

/** What `GET /api/runs/:id` answers. */
export interface RunView {
  runId: string;
  action: string;
  group: string;
  status: string;
  stages: {
    num: number;
    name: string;
    iteration: number;
    status: string;
    attempts: number;
    startedAt: string;
    finishedAt: string | null;
    error: string | null;
  }[];
  result: Record<string, unknown>;
  createdAt: string;
  finishedAt: string | null;
}

// canonicalize is CommonJS (`module.exports = fn`) but its types declare a default export,
// which NodeNext reads as `{ default }`; at run time the default import is the function.
const canonicalize = canonicalizeCjs as unknown as (input: unknown) => string | undefined;

/** SHA-256 of the body in RFC 8785 canonical form: the same request hashes the same whatever its key order. */
export function requestHash(body: StartRunBody): string {
  return createHash('sha256')
    .update(canonicalize(body) ?? '')
    .digest('hex');
}

@Injectable()
export class RunsService {
  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(RunsReadRepository) private readonly runs: RunsReadRepository,
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Asks the conductor to start the run (request/reply); its domain errors come back typed. */
  async start(
    body: StartRunBody,
    idempotencyKey: string | undefined,
  ): Promise<RunAccepted & { replayed: boolean }> {
    if (body.options?.faults !== undefined && !this.config.faults) {
      throw new HeadyError(
        ErrorCode.ValidationFailed,
        'options.faults: fault injection is disabled on this deployment (HEADY_FAULTS=1 enables it)',
        { errors: [{ path: 'body.options.faults', message: 'fault injection is disabled' }] },
      );
    }
    const req = create(StartRunRequestSchema, {
      action: body.action,
      input: body.input as never,
      sessionId: body.sessionId ?? '',
      options: (body.options ?? {}) as never,
      idempotencyKey: idempotencyKey ?? '',
      requestHash: requestHash(body),
    });
    const reply = await this.bus.request(
      'conductor.runs.start',
      { schema: StartRunRequestSchema, message: req },
      {
        timeoutMs: this.config.nats.rpcTimeoutMs,
        replySchema: StartRunReplySchema,
      },
    );
    this.log.info(
      { run_id: reply.runId, action: body.action, group: reply.group, replayed: reply.replayed },
      'run accepted',
    );
    return {
      runId: reply.runId,
      status: RunStatus[reply.status],
      links: this.links(reply.runId),
      replayed: reply.replayed,
    };
  }

  /**
   * Asks for the run to stop: its next stage compensates what completed and ends it
   * CANCELLED. Asking again is harmless; asking after it ended another way is RUN_ENDED.
   */
  async cancel(id: string): Promise<{ runId: string; status: string }> {
    const status = await this.runs.requestCancel(id);
    if (status === undefined) throw new RunNotFoundError(id);
    if (status === 'SUCCEEDED' || status === 'FAILED' || status === 'COMPENSATED') {
      throw new RunEndedError(id, status);
    }
    this.log.info({ run_id: id, status }, 'run cancellation requested');
    return { runId: id, status: status === 'CANCELLED' ? 'CANCELLED' : 'CANCELLING' };
  }

  async get(id: string): Promise<RunView> {
    const found = await this.runs.findWithStages(id);
    if (!found) throw new RunNotFoundError(id);
    const { run, stages } = found;
    return {
      runId: run.id,
      action: run.action,
      group: run.service_group,
      status: run.status,
      stages: stages.map((s) => ({
        num: s.stage_num,
        name: s.stage_name,
        iteration: s.iteration,
        status: s.status,
        attempts: s.attempts,
        startedAt: s.started_at.toISOString(),
        finishedAt: s.finished_at?.toISOString() ?? null,
        error: s.error,
      })),
      result: run.result,
      createdAt: run.created_at.toISOString(),
      finishedAt: run.finished_at?.toISOString() ?? null,
    };
  }

  private links(runId: string): RunAccepted['links'] {
    return { self: `/api/runs/${runId}`, events: `/api/runs/${runId}/events` };
  }
}
