import { type Kysely } from 'kysely';
import { type Database, type PipelineRun, type RunStatus, type StageRun } from './schema.js';

/** A run with its stage executions, in itinerary order (iteration, then stage number). */
export interface RunWithStages {
  run: PipelineRun;
  stages: StageRun[];
}

/**
 * Whose runs a read may see: one organization's (an API key sees only its own; another
 * organization's run reads as missing), or every organization's (an operator's tool).
 */
export type RunScope = { orgId: string } | 'all-orgs';

/** A run as an operator's listing shows it: with its organization's name. */
export type RunListing = Pick<
  PipelineRun,
  'id' | 'action' | 'service_group' | 'status' | 'created_at' | 'finished_at'
> & { org: string | null };

/**
 * How a run is read for showing it: `GET /api/runs/{id}` (scoped to the caller's
 * organization) and `heady runs show` (an operator: any organization) read it here, so
 * both show the same run with the same stages in the same order. `heady runs ls` lists here.
 */
export class RunViewRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Run `id` and its stage executions; undefined when there is no such run in `scope`. */
  async findWithStages(id: string, scope: RunScope): Promise<RunWithStages | undefined> {
    let q = this.db.selectFrom('pipeline_runs').selectAll().where('id', '=', id);
    if (scope !== 'all-orgs') q = q.where('org_id', '=', scope.orgId);
    const run = await q.executeTakeFirst();
    if (!run) return undefined;
    const stages = await this.db
      .selectFrom('pipeline_stage_runs')
      .selectAll()
      .where('pipeline_run_id', '=', id)
      .orderBy('iteration')
      .orderBy('stage_num')
      .execute();
    return { run, stages };
  }

  /**
   * The most recent `limit` runs of every organization (newest first), optionally only
   * those in `status` or of the organization named `org`: what `heady runs ls` shows.
   */
  listRecent(f: { limit: number; status?: RunStatus; org?: string }): Promise<RunListing[]> {
    let q = this.db
      .selectFrom('pipeline_runs as r')
      .leftJoin('organizations as o', 'o.id', 'r.org_id')
      .select([
        'r.id',
        'o.name as org',
        'r.action',
        'r.service_group',
        'r.status',
        'r.created_at',
        'r.finished_at',
      ])
      .orderBy('r.created_at', 'desc')
      .limit(f.limit);
    if (f.status) q = q.where('r.status', '=', f.status);
    if (f.org) q = q.where('o.name', '=', f.org);
    return q.execute();
  }
}
