import {
  type Database,
  type Kysely,
  type NewPipelineRun,
  type PipelineRun,
  RunStateRepository,
} from '@heady/db';

/** Where an Idempotency-Key is unique: one caller (organization and API key) on one route. */
export interface RequestScope {
  orgId: string;
  apiKeyId: string | null;
  route: string | null;
}
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

@Injectable()
export class RunsRepository {
  /** Writes the run's state (the only writer of `pipeline_runs`). */
  private readonly state: RunStateRepository;

  constructor(@Inject(DB) private readonly db: Kysely<Database>) {
    this.state = new RunStateRepository(db);
  }

  /**
   * Writes a PENDING run. With an idempotency key, a concurrent or earlier run holding
   * the same key in the same scope (organization, API key, route) wins and this returns
   * undefined (the unique partial index decides).
   */
  insertPending(run: Omit<NewPipelineRun, 'status'>): Promise<PipelineRun | undefined> {
    return this.state.accept(run);
  }

  /** The run `requestId` started in `scope`; another caller's key never matches. */
  async findByRequestId(requestId: string, scope: RequestScope): Promise<PipelineRun | undefined> {
    return this.db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('request_id', '=', requestId)
      .where('org_id', '=', scope.orgId)
      .where((eb) =>
        scope.apiKeyId === null
          ? eb('api_key_id', 'is', null)
          : eb('api_key_id', '=', scope.apiKeyId),
      )
      .where((eb) =>
        scope.route === null
          ? eb('request_route', 'is', null)
          : eb('request_route', '=', scope.route),
      )
      .executeTakeFirst();
  }

  /**
   * Marks a run that never got its first command FAILED (only while still PENDING);
   * true when this call ended it.
   */
  failPending(id: string, error: string): Promise<boolean> {
    return this.state.failPending(id, error);
  }
}
