import { rethrowUnavailable } from '@heady/contracts';
import {
  type Database,
  type Kysely,
  type PipelineRun,
  RunStateRepository,
  type RunStatus,
  RunViewRepository,
  type RunWithStages,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** The filters and page of a listing (the cursor already decoded to the last run id seen). */
export interface RunFilter {
  status?: RunStatus;
  action?: string;
  since?: Date;
  until?: Date;
  /** List the runs after this one (newest first); it must be `orgId`'s. */
  afterId?: string;
  limit: number;
}

/** PostgreSQL being unreachable reaches callers as an `UnavailableError` (a 503). */
const unavailable = (err: unknown): never => rethrowUnavailable(err, 'postgres');

/**
 * Runs as API keys see them: every query names the caller's organization. PostgreSQL being
 * unreachable is raised as an `UnavailableError`.
 */
@Injectable()
export class RunsReadRepository {
  /** Writes the run's state (the only writer of `pipeline_runs`). */
  private readonly state: RunStateRepository;
  /** The read of a run with its stages that `heady runs show` shares. */
  private readonly view: RunViewRepository;

  constructor(@Inject(DB) private readonly db: Kysely<Database>) {
    this.state = new RunStateRepository(db);
    this.view = new RunViewRepository(db);
  }

  /** The run and its stage executions, in itinerary order, when it belongs to `orgId`. */
  findWithStages(id: string, orgId: string): Promise<RunWithStages | undefined> {
    return this.view.findWithStages(id, { orgId }).catch(unavailable);
  }

  /**
   * Records a cancellation request (the first one's time is kept, so a repeat is harmless).
   * Returns the run's status, or undefined when `orgId` has no such run.
   */
  requestCancel(id: string, orgId: string): Promise<string | undefined> {
    return this.state.requestCancel(id, orgId).catch(unavailable);
  }

  /** Run `id`'s status when it belongs to `orgId`. */
  async status(id: string, orgId: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select('status')
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch(unavailable);
    return r?.status;
  }

  /** True when run `id` exists and belongs to `orgId`. */
  async exists(id: string, orgId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch(unavailable);
    return r !== undefined;
  }

  /**
   * Up to `limit` of `orgId`'s runs, newest first (by creation time, then id), after run
   * `afterId` when given. The cursor run is compared in SQL, at PostgreSQL's microsecond
   * precision, so no run is skipped or listed twice between pages. Undefined when
   * `afterId` is not one of `orgId`'s runs.
   */
  list(orgId: string, f: RunFilter): Promise<PipelineRun[] | undefined> {
    return this.page(orgId, f).catch(unavailable);
  }

  private async page(orgId: string, f: RunFilter): Promise<PipelineRun[] | undefined> {
    if (f.afterId !== undefined && !(await this.exists(f.afterId, orgId))) return undefined;
    let q = this.db
      .selectFrom('pipeline_runs as r')
      .selectAll('r')
      .where('r.org_id', '=', orgId)
      .orderBy('r.created_at', 'desc')
      .orderBy('r.id', 'desc')
      .limit(f.limit);
    if (f.status) q = q.where('r.status', '=', f.status);
    if (f.action) q = q.where('r.action', '=', f.action);
    if (f.since) q = q.where('r.created_at', '>=', f.since);
    if (f.until) q = q.where('r.created_at', '<', f.until);
    if (f.afterId !== undefined) {
      const afterId = f.afterId;
      q = q.where((eb) =>
        eb(
          eb.refTuple('r.created_at', 'r.id'),
          '<',
          eb
            .selectFrom('pipeline_runs as c')
            .select(['c.created_at', 'c.id'])
            .where('c.id', '=', afterId)
            .$asTuple('created_at', 'id'),
        ),
      );
    }
    return q.execute();
  }
}
