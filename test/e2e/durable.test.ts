import { STAGE_NAMES } from '@heady/config';
import { type Database, type Kysely } from '@heady/db';
import {
  createTestDatabase,
  type Stack,
  startNatsServer,
  startStack,
  type TestDatabase,
} from '@heady/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, postRun, waitTerminal } from './helpers.js';

// Durable runs through the real services as separate processes (signing on), with fault
// injection enabled: retries with backoff, and saga compensation in reverse.
describe('durable runs: retries, compensation and fault injection', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  let base: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_e2e_durable');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['conductor', 'pipeline', 'gateway'],
      env: { HEADY_STAGE_ACK_WAIT_MS: '3000', HEADY_FAULTS: '1' },
    });
    db = openDb(pg.url);
    base = stack.gatewayUrl;
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  const stageRows = (runId: string) =>
    db
      .selectFrom('pipeline_stage_runs')
      .select(['stage_name', 'stage_num', 'status', 'attempts', 'compensations', 'compensated_at'])
      .where('pipeline_run_id', '=', runId)
      .orderBy('stage_num')
      .execute();

  it('succeeds with 3 attempts on the stage that fails transiently twice, for each stage in turn', async () => {
    const posted = await Promise.all(
      STAGE_NAMES.map((stage) =>
        postRun(base, {
          action: 'chat',
          input: { stage },
          options: { faults: [{ stage, mode: 'transient', times: 2 }] },
        }),
      ),
    );
    expect(posted.map((p) => p.status)).toEqual(Array(STAGE_NAMES.length).fill(202));
    const views = await waitTerminal(
      base,
      posted.map((p) => p.body.runId as string),
    );
    for (const [i, v] of views.entries()) {
      const faulty = STAGE_NAMES[i];
      expect(v.status, faulty).toBe('SUCCEEDED');
      expect(v.stages.map((s) => s.name)).toEqual([...STAGE_NAMES]);
      for (const s of v.stages) {
        expect(s.status).toBe('SUCCEEDED');
        expect(s.attempts, `${faulty} run, stage ${s.name}`).toBe(s.name === faulty ? 3 : 1);
      }
    }
  });

  it('compensates stages k-1 … 0 in reverse, each once, after a permanent fault at stage k', async () => {
    const ks = [1, 3, 5, 8];
    const posted = await Promise.all(
      ks.map((k) =>
        postRun(base, {
          action: 'code',
          input: { k },
          options: { faults: [{ stage: STAGE_NAMES[k], mode: 'permanent' }] },
        }),
      ),
    );
    const views = await waitTerminal(
      base,
      posted.map((p) => p.body.runId as string),
    );
    for (const [i, v] of views.entries()) {
      const k = ks[i] ?? -1;
      expect(v.status, `permanent at ${k}`).toBe('COMPENSATED');
      const rows = await stageRows(v.runId);
      // nothing after k ran; k failed on its first attempt (a permanent failure is not retried)
      expect(rows.map((r) => r.stage_num)).toEqual(Array.from({ length: k + 1 }, (_, n) => n));
      const failed = rows[k];
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 1, compensations: 0 });
      const undone = rows.slice(0, k);
      for (const r of undone) {
        expect(r, r.stage_name).toMatchObject({ status: 'COMPENSATED', compensations: 1 });
        expect(r.compensated_at).not.toBeNull();
      }
      // reverse order: a later stage was undone no later than an earlier one
      const times = undone.map((r) => r.compensated_at?.getTime() ?? 0);
      for (let n = 1; n < times.length; n++) {
        expect(times[n - 1] ?? 0).toBeGreaterThanOrEqual(times[n] ?? 0);
      }
      const run = await db
        .selectFrom('pipeline_runs')
        .select(['request_id', 'result', 'error'])
        .where('id', '=', v.runId)
        .executeTakeFirstOrThrow();
      expect(run.error).toMatch(/injected permanent fault/);
      // finalize's compensation retracted the stored result
      if (k === 8) expect(run.result).toEqual({});
    }
  });

  it('releases the idempotency key when channel entry is compensated', async () => {
    const key = `durable-${Date.now()}`;
    const first = await postRun(
      base,
      { action: 'chat', input: {}, options: { faults: [{ stage: 'plan', mode: 'permanent' }] } },
      { 'idempotency-key': key },
    );
    const [v] = await waitTerminal(base, [first.body.runId as string]);
    expect(v?.status).toBe('COMPENSATED');
    // the key names a new run now
    const again = await postRun(base, { action: 'chat', input: {} }, { 'idempotency-key': key });
    expect(again.status).toBe(202);
    expect(again.body.runId).not.toBe(first.body.runId);
    const [w] = await waitTerminal(base, [again.body.runId as string]);
    expect(w?.status).toBe('SUCCEEDED');
  });

  it('ends FAILED when a compensation fails permanently, with the message in DLQ', async () => {
    const res = await postRun(base, {
      action: 'chat',
      input: {},
      options: {
        faults: [
          { stage: 'execute', mode: 'permanent' },
          { stage: 'ingest', mode: 'compensation' },
        ],
      },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(base, [runId]);
    expect(v?.status).toBe('FAILED');
    const rows = await stageRows(runId);
    // plan was undone before ingest's compensation failed; channel entry was not reached
    expect(rows.map((r) => [r.stage_name, r.status])).toEqual([
      ['channel-entry', 'SUCCEEDED'],
      ['ingest', 'SUCCEEDED'],
      ['plan', 'COMPENSATED'],
      ['execute', 'FAILED'],
    ]);
    const run = await db
      .selectFrom('pipeline_runs')
      .select('error')
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(run.error).toMatch(/compensation of ingest failed/);
    // the stage command that could not be undone is in DLQ with its reason
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const m = await jsm.streams.getMessage('DLQ', {
        last_by_subj: 'dlq.PIPELINE.stage-execute',
      });
      expect(m?.header.get('Heady-Dlq-Reason')).toMatch(/compensation of ingest failed/);
    } finally {
      await nc.close();
    }
  });

  it('answers 422 problem+json for a malformed fault', async () => {
    const res = await postRun(base, {
      action: 'chat',
      input: {},
      options: { faults: [{ stage: 'nowhere', mode: 'transient' }] },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
