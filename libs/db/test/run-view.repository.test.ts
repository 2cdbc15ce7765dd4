import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  RunStateRepository,
  RunViewRepository,
} from '../src/index.js';

// The one read of a run with its stages (GET /api/runs/{id}, heady runs show) against a real
// PostgreSQL: scoped to an organization, or to every one for an operator.
describe(RunViewRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let view: RunViewRepository;
  let acme: string;
  let globex: string;
  let runId: string;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_run_view');
    db = createDb({ url: pg.url, poolMax: 2 });
    view = new RunViewRepository(db);
    acme = (await ensureOrganization(db, 'run-view-acme')).id;
    globex = (await ensureOrganization(db, 'run-view-globex')).id;
    const run = await new RunStateRepository(db).accept({
      id: randomUUID(),
      workflow_id: 'hcfullpipeline',
      org_id: acme,
      api_key_id: null,
      request_route: 'POST /api/runs',
      request_id: null,
      seed: 1,
      action: 'chat',
      service_group: 'reasoning',
      input: {},
      options: {},
    });
    runId = run!.id;
    // written out of order: the read orders them by iteration, then stage number
    const stage = (stage_num: number, stage_name: string, iteration: number) => ({
      pipeline_run_id: runId,
      stage_num,
      stage_name,
      iteration,
      status: 'SUCCEEDED' as const,
      started_at: new Date(),
      metrics: {},
      output: {},
      error: null,
      compensation: null,
      compensation_error: null,
      compensated_by: null,
    });
    await db
      .insertInto('pipeline_stage_runs')
      .values([stage(5, 'execute', 2), stage(2, 'plan', 1), stage(5, 'execute', 1)])
      .execute();
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  it("reads an organization's run with its stages in itinerary order", async () => {
    const found = await view.findWithStages(runId, { orgId: acme });
    expect(found?.run).toMatchObject({ id: runId, org_id: acme, action: 'chat' });
    expect(found?.stages.map((s) => [s.iteration, s.stage_num])).toEqual([
      [1, 2],
      [1, 5],
      [2, 5],
    ]);
  });

  it("does not see another organization's run", async () => {
    expect(await view.findWithStages(runId, { orgId: globex })).toBeUndefined();
  });

  it('sees the run of any organization for an operator', async () => {
    const found = await view.findWithStages(runId, 'all-orgs');
    expect(found?.run.org_id).toBe(acme);
    expect(found?.stages).toHaveLength(3);
  });

  it('answers undefined for a run that does not exist', async () => {
    expect(await view.findWithStages(randomUUID(), 'all-orgs')).toBeUndefined();
  });
});
