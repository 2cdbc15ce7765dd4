import { stageMsgId } from '@heady/bus';
import {
  type RunEvent,
  type StageCommand,
  StageCommandSchema,
  stageCommand,
  stageSubject,
} from '@heady/contracts';
import { type PipelineRun, RunStateRepository, sql } from '@heady/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageRunner } from '../src/runner/stage-runner.service.js';
import {
  acceptRun,
  eventually,
  type PipelineUnderTest,
  runRow,
  settledUpTo,
  stageRows,
  startPipeline,
  storedOn,
} from './harness.js';

// The stage runner as the pipeline process runs it: JetStream delivers a stage command to the
// `stage-channel-entry` consumer, the runner claims an attempt and does the work in PostgreSQL.
describe(StageRunner.name, () => {
  let p: PipelineUnderTest;

  beforeAll(async () => {
    p = await startPipeline('stage_runner', ['channel-entry']);
  });

  afterAll(async () => {
    await p?.stop();
  });

  /** Publishes channel entry's command for `run`; `msgId` other than its own is a redelivery. */
  async function sendEntry(run: PipelineRun, msgId?: string): Promise<number> {
    const cmd = stageCommand(
      { runId: run.id, action: run.action, group: run.service_group, seed: BigInt(run.seed) },
      'channel-entry',
      0,
      [],
    );
    const ack = await p.pub.publish(
      stageSubject('channel-entry'),
      { schema: StageCommandSchema, message: cmd },
      { msgId: msgId ?? stageMsgId(run.id, 'channel-entry', 0) },
    );
    return ack.seq;
  }

  /** How many of each run event the run published, by event name. */
  async function eventCounts(runId: string): Promise<Record<string, number>> {
    const events = await storedOn<RunEvent>(p.bus, 'RUN_EVENTS', `runs.${runId}.>`);
    const counts: Record<string, number> = {};
    for (const e of events) counts[e.payload.event] = (counts[e.payload.event] ?? 0) + 1;
    return counts;
  }

  /** The commands for the next stage (ingest) published for `runId`. */
  async function ingestCommands(runId: string) {
    const all = await storedOn<StageCommand>(p.bus, 'PIPELINE', stageSubject('ingest'));
    return all.filter((m) => m.payload.runId === runId);
  }

  const entryRow = async (runId: string) =>
    (await stageRows(p.db, runId)).find((r) => r.stage_name === 'channel-entry');

  it('runs the stage once for its command and publishes the next stage', async () => {
    const run = await acceptRun(p.db);
    await sendEntry(run);

    const row = await eventually(async () => {
      const r = await entryRow(run.id);
      return r?.status === 'SUCCEEDED' && r;
    });
    expect(row.attempts).toBe(1);
    // the stage's work: channel entry admitted the run
    expect((await runRow(p.db, run.id))?.status).toBe('RUNNING');
    const next = await eventually(async () => {
      const cmds = await ingestCommands(run.id);
      return cmds.length > 0 && cmds;
    });
    expect(next).toHaveLength(1);
    expect(next[0]?.msgId).toBe(stageMsgId(run.id, 'ingest', 0));
    expect(next[0]?.payload.slip?.completed).toEqual(['channel-entry']);
    await eventually(async () => (await eventCounts(run.id))['stage.succeeded'] === 1);
    expect(await eventCounts(run.id)).toMatchObject({
      'run.started': 1,
      'stage.started': 1,
      'stage.succeeded': 1,
    });
  });

  it('skips a redelivered command of a stage that already succeeded', async () => {
    const run = await acceptRun(p.db);
    await sendEntry(run);
    const done = await eventually(async () => {
      const r = await entryRow(run.id);
      return r?.status === 'SUCCEEDED' && r;
    });

    // a delivery the first one's lost ack left behind: JetStream would drop a re-publish
    // under the same msg id, so it is published under another
    const seq = await sendEntry(run, `${stageMsgId(run.id, 'channel-entry', 0)}:again`);
    await settledUpTo(p.bus, 'stage-channel-entry', seq);

    const after = await entryRow(run.id);
    expect(after?.attempts).toBe(1);
    expect(after?.finished_at).toEqual(done.finished_at);
    const counts = await eventCounts(run.id);
    // a second attempt would publish its own stage.started (its msg id names the attempt)
    expect(counts['stage.started']).toBe(1);
    expect(counts['stage.failed']).toBeUndefined();
    expect(await ingestCommands(run.id)).toHaveLength(1);
  });

  it('does not run the stage of a run whose cancellation was requested', async () => {
    const run = await acceptRun(p.db);
    if (!run.org_id) throw new Error('run without organization');
    expect(await new RunStateRepository(p.db).requestCancel(run.id, run.org_id)).toBe('PENDING');
    await sendEntry(run);

    const ended = await eventually(async () => {
      const r = await runRow(p.db, run.id);
      return r?.status === 'CANCELLED' && r;
    });
    expect(ended.error).toBe('cancelled on request');
    // no attempt was claimed: the stage has no row and never started
    expect(await stageRows(p.db, run.id)).toEqual([]);
    await eventually(async () => (await eventCounts(run.id))['run.cancelled'] === 1);
    const counts = await eventCounts(run.id);
    expect(counts['stage.started']).toBeUndefined();
    expect(counts['run.started']).toBeUndefined();
    expect(await ingestCommands(run.id)).toEqual([]);
  });

  it('does not run the stage of a run past its deadline', async () => {
    const run = await acceptRun(p.db, { options: { deadlineMs: 1 } });
    await new Promise((r) => setTimeout(r, 20));
    await sendEntry(run);

    const ended = await eventually(async () => {
      const r = await runRow(p.db, run.id);
      return r?.status === 'COMPENSATED' && r;
    });
    expect(ended.error).toBe('deadline of 1 ms exceeded');
    expect(await stageRows(p.db, run.id)).toEqual([]);
    expect(await ingestCommands(run.id)).toEqual([]);
  });

  it('retries a stage whose database connection was lost without counting it as the stage failing', async () => {
    // the first attempt works for 1.5 s inside its transaction; its connection is cut meanwhile
    const run = await acceptRun(p.db, {
      options: { faults: [{ stage: 'channel-entry', mode: 'delay', ms: 1_500 }] },
    });
    await sendEntry(run);

    const killed = await eventually(async () => {
      const { rows } = await sql<{ killed: boolean }>`
        SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = ${p.config.instanceId}
           AND state = 'idle in transaction'`.execute(p.db);
      return rows.length > 0 && rows.every((r) => r.killed) && rows.length;
    });
    expect(killed).toBe(1);

    const row = await eventually(async () => {
      const r = await entryRow(run.id);
      return r?.status === 'SUCCEEDED' && r;
    });
    // the attempt whose connection was lost and the one after it
    expect(row.attempts).toBe(2);
    expect((await runRow(p.db, run.id))?.status).toBe('RUNNING');
    expect(await eventually(async () => (await ingestCommands(run.id)).length)).toBe(1);
    const counts = await eventCounts(run.id);
    expect(counts['stage.failed']).toBeUndefined();
    expect(counts['stage.started']).toBe(2);
    expect(counts['run.compensating']).toBeUndefined();
  });
});
