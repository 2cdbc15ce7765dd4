import { stageMsgId } from '@heady/bus';
import {
  type CompensationCommand,
  CompensationCommandSchema,
  type RunEvent,
  StageCommandSchema,
  isStageName,
  compensationSubject,
  stageCommand,
  stageSubject,
} from '@heady/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompensationRunner } from '../src/runner/compensation-runner.service.js';
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

// A run whose third stage fails for good is undone by durable compensation commands, one per
// completed stage, walking the routing slip backwards, each consumed by `compensate-<stage>`.
describe(CompensationRunner.name, () => {
  let p: PipelineUnderTest;

  beforeAll(async () => {
    p = await startPipeline('compensation_runner', ['channel-entry', 'ingest', 'plan']);
  });

  afterAll(async () => {
    await p?.stop();
  });

  it('undoes the completed stages in reverse order, each exactly once, also when redelivered', async () => {
    const requestId = `key-${Date.now()}`;
    const run = await acceptRun(p.db, {
      request_id: requestId,
      options: {
        faults: [
          { stage: 'plan', mode: 'permanent' },
          // channel entry's compensation fails once: it is redelivered and must not run twice
          { stage: 'channel-entry', mode: 'compensation', times: 1 },
        ],
      },
    });
    const first = stageCommand(
      { runId: run.id, action: run.action, group: run.service_group, seed: BigInt(run.seed) },
      'channel-entry',
      0,
      [],
    );
    await p.pub.publish(
      stageSubject('channel-entry'),
      { schema: StageCommandSchema, message: first },
      { msgId: stageMsgId(run.id, 'channel-entry', 0) },
    );

    const ended = await eventually(async () => {
      const r = await runRow(p.db, run.id);
      return r?.status === 'COMPENSATED' && r;
    });
    expect(ended.error).toBe('plan: injected permanent fault');
    // channel entry's compensation took effect: the Idempotency-Key may name a new run
    expect(ended.request_id).toBeNull();

    const rows = await stageRows(p.db, run.id);
    expect(
      rows.map((r) => [r.stage_name, r.status, r.compensations, r.compensation_attempts]),
    ).toEqual([
      ['channel-entry', 'COMPENSATED', 1, 2],
      ['ingest', 'COMPENSATED', 1, 1],
      ['plan', 'FAILED', 0, 0],
    ]);
    expect(rows[0]?.compensation_error).toBeNull();
    const [entry, ingest] = rows;
    expect(ingest?.compensated_at?.getTime()).toBeLessThanOrEqual(
      entry?.compensated_at?.getTime() ?? 0,
    );

    // the commands and the events walk the slip backwards: ingest, then channel entry
    const commands = (
      await storedOn<CompensationCommand>(p.bus, 'PIPELINE', 'pipeline.compensate.>')
    ).filter((m) => m.payload.runId === run.id);
    expect(commands.map((m) => m.payload.stage)).toEqual(['ingest', 'channel-entry']);
    const compensated = async () =>
      (await storedOn<RunEvent>(p.bus, 'RUN_EVENTS', `runs.${run.id}.stage.compensated`)).map(
        (m) => m.payload.stage,
      );
    expect(await eventually(async () => (await compensated()).length === 2)).toBe(true);
    expect(await compensated()).toEqual(['ingest', 'channel-entry']);

    // every compensation command delivered again (a lost ack): nothing is undone twice
    for (const c of commands) {
      const stage = c.payload.stage;
      if (!isStageName(stage)) throw new Error(`unknown stage ${stage}`);
      const ack = await p.pub.publish(
        compensationSubject(stage),
        { schema: CompensationCommandSchema, message: c.payload },
        { msgId: `${c.msgId ?? stage}:again` },
      );
      await settledUpTo(p.bus, `compensate-${stage}`, ack.seq);
    }
    const again = await stageRows(p.db, run.id);
    expect(
      again.map((r) => [r.stage_name, r.status, r.compensations, r.compensation_attempts]),
    ).toEqual([
      ['channel-entry', 'COMPENSATED', 1, 2],
      ['ingest', 'COMPENSATED', 1, 1],
      ['plan', 'FAILED', 0, 0],
    ]);
    expect(again.map((r) => r.compensated_at)).toEqual(rows.map((r) => r.compensated_at));
    expect((await runRow(p.db, run.id))?.status).toBe('COMPENSATED');
    expect(
      await storedOn<RunEvent>(p.bus, 'RUN_EVENTS', `runs.${run.id}.run.compensated`),
    ).toHaveLength(1);
  });
});
