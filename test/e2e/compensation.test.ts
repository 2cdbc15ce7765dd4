import { fromBinary } from '@bufbuild/protobuf';
import { CompensationCommandSchema, STAGE_NAMES } from '@heady/contracts';
import { runHeady } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { jetstreamManager } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, postRun, useApiKey, waitTerminal } from './helpers.js';

// Compensation as durable commands, through the real services as separate processes
// (signing on): two pipeline processes split the stages between them, and each stage is
// undone by its own `compensate-<stage>` consumer in the process that runs that stage.
const A_STAGES = STAGE_NAMES.filter((_, i) => i % 2 === 0); // channel-entry, plan, recover, optimize, monitor
const B_STAGES = STAGE_NAMES.filter((_, i) => i % 2 === 1); // ingest, execute, self-critique, finalize

describe('compensation commands: per-stage consumers, retries, DLQ redrive, crashes', () => {
  const system = withSystem({
    database: 'heady_e2e_compensation',
    services: ['conductor', 'pipeline', 'gateway'],
    // 3 attempts per stage and per compensation keeps the retry schedule short (250 ms, 1 s)
    env: { HEADY_STAGE_ACK_WAIT_MS: '3000', HEADY_FAULTS: '1', HEADY_STAGE_MAX_DELIVER: '3' },
    pipelines: [
      { HEADY_PIPELINE_STAGES: A_STAGES.join(','), HEADY_INSTANCE_ID: 'pipeline-a' },
      { HEADY_PIPELINE_STAGES: B_STAGES.join(','), HEADY_INSTANCE_ID: 'pipeline-b' },
    ],
    client: true,
  });

  beforeAll(() => {
    useApiKey(system.credentials.admin.key);
  });

  const stageRows = (runId: string) =>
    system.db
      .selectFrom('pipeline_stage_runs')
      .select([
        'stage_name',
        'stage_num',
        'status',
        'compensations',
        'compensation_attempts',
        'compensated_by',
        'compensated_at',
        'compensation_error',
      ])
      .where('pipeline_run_id', '=', runId)
      .orderBy('stage_num')
      .execute();

  const runRow = (runId: string) =>
    system.db
      .selectFrom('pipeline_runs')
      .select(['status', 'error'])
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();

  const heady = (...args: string[]): Promise<unknown> => system.heady(args);

  it('undoes each completed stage in the process that runs it, from one command per stage', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: { faults: [{ stage: 'optimize', mode: 'permanent' }] },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('COMPENSATED');
    const rows = await stageRows(runId);
    const undone = rows.filter((r) => r.stage_name !== 'optimize');
    expect(undone.map((r) => r.stage_name)).toEqual(STAGE_NAMES.slice(0, 6));
    for (const r of undone) {
      expect(r, r.stage_name).toMatchObject({
        status: 'COMPENSATED',
        compensations: 1,
        compensation_attempts: 1,
        compensated_by: (A_STAGES as string[]).includes(r.stage_name) ? 'pipeline-a' : 'pipeline-b',
      });
    }
    // in reverse: a later stage was undone no later than an earlier one
    const times = undone.map((r) => r.compensated_at?.getTime() ?? 0);
    for (let n = 1; n < times.length; n++) {
      expect(times[n - 1] ?? 0).toBeGreaterThanOrEqual(times[n] ?? 0);
    }

    // one command per stage on pipeline.compensate.<stage>, its msg id made of its meaning,
    // its routing slip listing what is still to undo (this stage last)
    const jsm = await jetstreamManager(system.nc);
    for (const [i, stage] of STAGE_NAMES.slice(0, 6).entries()) {
      const m = await jsm.streams.getMessage('PIPELINE', {
        last_by_subj: `pipeline.compensate.${stage}`,
      });
      expect(m?.header.get('Nats-Msg-Id')).toBe(`${runId}:${stage}:0:compensate`);
      if (!m) throw new Error(`no command on pipeline.compensate.${stage}`);
      const cmd = fromBinary(CompensationCommandSchema, m.data);
      expect(cmd.slip?.completed).toEqual(STAGE_NAMES.slice(0, i + 1));
      expect(cmd.failedStage).toBe('optimize');
    }
  });

  it("shows a compensated run over REST: its error, each stage's compensation, and its own trace id", async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: { faults: [{ stage: 'finalize', mode: 'permanent' }] },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('COMPENSATED');
    const got = await fetch(`${system.gatewayUrl}/api/runs/${runId}`, { headers: authHeaders() });
    expect(got.status).toBe(200);
    const run = (await got.json()) as {
      error: string | null;
      traceId: string | null;
      stages: {
        name: string;
        status: string;
        compensation: { state: string; attempts: number; compensatedAt: string | null };
      }[];
    };
    const row = await runRow(runId);
    expect(row.error).toBeTruthy();
    expect(run.error).toBe(row.error);
    const byName = new Map(run.stages.map((s) => [s.name, s]));
    for (const stage of STAGE_NAMES.slice(0, 7)) {
      expect(byName.get(stage)?.compensation, stage).toMatchObject({
        state: 'DONE',
        attempts: 1,
        compensatedAt: expect.any(String),
      });
    }
    expect(byName.get('finalize')?.status).toBe('FAILED');
    expect(byName.get('finalize')?.compensation.state).toBe('NONE');
    // the run's trace, in the body and in Heady-Trace-Id; traceparent is this request's
    const stored = await system.db
      .selectFrom('pipeline_runs')
      .select('trace_id')
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(stored.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(run.traceId).toBe(stored.trace_id);
    expect(got.headers.get('heady-trace-id')).toBe(stored.trace_id);
    expect(got.headers.get('traceparent') ?? '').not.toContain(stored.trace_id ?? '-');
  });

  it('retries a compensation that fails transiently, with backoff, until it takes effect once', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: {
        faults: [
          { stage: 'execute', mode: 'permanent' },
          { stage: 'plan', mode: 'compensation', times: 2 },
        ],
      },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('COMPENSATED');
    const rows = await stageRows(runId);
    expect(
      rows.map((r) => [r.stage_name, r.status, r.compensations, r.compensation_attempts]),
    ).toEqual([
      ['channel-entry', 'COMPENSATED', 1, 1],
      ['ingest', 'COMPENSATED', 1, 1],
      ['plan', 'COMPENSATED', 1, 3],
      ['execute', 'FAILED', 0, 0],
    ]);
    expect(rows[2]?.compensation_error).toBeNull();
  });

  // 9 s in CI
  it('dead-letters a compensation whose retries run out (run FAILED), and a redrive completes the compensation', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: {
        faults: [
          { stage: 'plan', mode: 'permanent' },
          // fails all 3 attempts the consumer allows; the 4th (after redrive) goes through
          { stage: 'ingest', mode: 'compensation', times: 3 },
        ],
      },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('FAILED');
    expect((await runRow(runId)).error).toMatch(/compensation of ingest failed/);
    const before = await stageRows(runId);
    expect(before.map((r) => [r.stage_name, r.status, r.compensation_attempts])).toEqual([
      ['channel-entry', 'SUCCEEDED', 0],
      ['ingest', 'SUCCEEDED', 3],
      ['plan', 'FAILED', 0],
    ]);
    expect(before[1]?.compensation_error).toMatch(/injected transient compensation fault/);

    await heady('keys', 'issue', 'operator', '--operator', '-s', '>');
    const letters = (await heady('dlq', 'ls')) as {
      seq: number;
      subject: string;
      reason: string;
    }[];
    const letter = letters.find((l) => l.subject === 'pipeline.compensate.ingest');
    expect(letter?.reason).toMatch(/compensation of ingest failed/);
    const redriven = (await heady('dlq', 'redrive', String(letter?.seq))) as { subject: string };
    expect(redriven.subject).toBe('pipeline.compensate.ingest');

    await waitFor(async () => (await runRow(runId)).status === 'COMPENSATED');
    const after = await stageRows(runId);
    expect(after.map((r) => [r.stage_name, r.status, r.compensations])).toEqual([
      ['channel-entry', 'COMPENSATED', 1],
      ['ingest', 'COMPENSATED', 1],
      ['plan', 'FAILED', 0],
    ]);
    expect(after[1]).toMatchObject({ compensation_attempts: 4, compensated_by: 'pipeline-b' });

    // heady runs show lists the compensation steps
    const shown = (await heady('runs', 'show', runId)) as {
      stages: { stage_name: string; compensation_attempts: number; compensated_by: string }[];
    };
    expect(
      shown.stages.map((s) => [s.stage_name, s.compensation_attempts, s.compensated_by]),
    ).toEqual([
      ['channel-entry', 1, 'pipeline-a'],
      ['ingest', 4, 'pipeline-b'],
      ['plan', 0, null],
    ]);
    const text = await runHeady(['runs', 'show', runId], { DATABASE_URL: system.pg.url });
    const timeline = text.slice(text.indexOf('compensation:'));
    expect(timeline).toMatch(/ingest .* yes .* 4 .* pipeline-b/);
    // ingest was undone before channel-entry
    expect(timeline.indexOf('ingest')).toBeLessThan(timeline.indexOf('channel-entry'));
    expect(timeline.indexOf('ingest')).toBeGreaterThan(0);
  }, 60_000);

  it('stops a working stage at its next heartbeat when the run is cancelled, and undoes what completed', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      // execute would take a minute (longer than its 20 s timeout) unless it stops on cancel
      options: { faults: [{ stage: 'execute', mode: 'delay', ms: 60_000, cancellable: true }] },
    });
    const runId = res.body.runId as string;
    await waitFor(async () => (await stageRows(runId)).some((r) => r.stage_name === 'execute'));
    const cancel = await fetch(`${system.gatewayUrl}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(cancel.status).toBe(202);
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('CANCELLED');
    const rows = await stageRows(runId);
    // execute stopped on its first attempt (not by its timeout), nothing after it ran
    expect(rows.map((r) => [r.stage_name, r.status, r.compensations])).toEqual([
      ['channel-entry', 'COMPENSATED', 1],
      ['ingest', 'COMPENSATED', 1],
      ['plan', 'COMPENSATED', 1],
      ['execute', 'FAILED', 0],
    ]);
    const execute = await system.db
      .selectFrom('pipeline_stage_runs')
      .select(['attempts', 'error'])
      .where('pipeline_run_id', '=', runId)
      .where('stage_name', '=', 'execute')
      .executeTakeFirstOrThrow();
    expect(execute).toEqual({ attempts: 1, error: 'stopped: cancelled on request' });
    expect((await runRow(runId)).error).toBe('cancelled on request');
  });

  it('compensates each stage exactly once when the compensating process is SIGKILLed mid-compensation', async () => {
    const a = system.stack.pipelines[0];
    if (!a) throw new Error('no pipeline process');
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: {
        faults: [
          { stage: 'self-critique', mode: 'permanent' },
          // plan's compensation (process A) kills its process on the first attempt
          { stage: 'plan', mode: 'compensation-crash' },
        ],
      },
    });
    const runId = res.body.runId as string;
    await waitFor(() => Promise.resolve(!a.running), 60_000);
    await a.start();
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('COMPENSATED');
    const rows = await stageRows(runId);
    expect(
      rows.map((r) => [r.stage_name, r.status, r.compensations, r.compensation_attempts]),
    ).toEqual([
      ['channel-entry', 'COMPENSATED', 1, 1],
      ['ingest', 'COMPENSATED', 1, 1],
      ['plan', 'COMPENSATED', 1, 2],
      ['execute', 'COMPENSATED', 1, 1],
      ['recover', 'COMPENSATED', 1, 1],
      ['self-critique', 'FAILED', 0, 0],
    ]);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
