import {
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  RunStateRepository,
} from '@heady/db';
import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './fixtures.js';

// `heady runs show` against a real PostgreSQL: an operator sees a run of any organization,
// with its stages in itinerary order (the read GET /api/runs/{id} shares, unscoped).
// every CLI call starts a Node process: generous timeouts on a loaded machine
describe('heady runs show', { timeout: 120_000 }, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let env: Record<string, string | undefined>;
  let runId: string;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_cli_runs_show');
    db = createDb({ url: pg.url, poolMax: 2 });
    const org = await ensureOrganization(db, 'cli-runs-show');
    const run = await new RunStateRepository(db).accept({
      id: randomUUID(),
      workflow_id: 'hcfullpipeline',
      org_id: org.id,
      api_key_id: null,
      request_route: 'POST /api/runs',
      request_id: null,
      seed: 7,
      action: 'chat',
      service_group: 'reasoning',
      input: {},
      options: {},
    });
    runId = run!.id;
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
      .values([stage(2, 'plan', 1), stage(1, 'channel-entry', 1)])
      .execute();
    env = { ...process.env, DATABASE_URL: pg.url };
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args], { env }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it("shows an organization's run with its stages in order", async () => {
    const r = await run('--json', 'runs', 'show', runId);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as {
      run: { id: string; seed: string };
      stages: { stage_num: number; stage_name: string }[];
    };
    // a bigint column is printed as a string
    expect(shown.run).toMatchObject({ id: runId, seed: '7' });
    expect(shown.stages.map((s) => s.stage_name)).toEqual(['channel-entry', 'plan']);
    const text = await run('runs', 'show', runId);
    expect(text.stdout).toContain(`run ${runId}  PENDING`);
  });

  it('says a run that does not exist, or an id that is no uuid, is not found', async () => {
    const missing = randomUUID();
    const r = await run('runs', 'show', missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`run ${missing} not found`);
    expect((await run('runs', 'show', 'abc')).stderr).toContain('run abc not found');
  });
});
