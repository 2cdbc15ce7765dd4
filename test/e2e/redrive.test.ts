import { withSystem } from '@heady/testing/fixtures';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { postRun, postRunWithDeadLetteredEntry, useApiKey, waitTerminal } from './helpers.js';

interface Letter {
  seq: number;
  subject: string;
  reason: string;
}

// `heady dlq redrive` and `heady replay` through the real services (signing on): an operator
// signature never launders a forged message, and --to-stage really runs that stage.
describe('heady dlq redrive and heady replay', () => {
  const system = withSystem({
    database: 'heady_e2e_redrive',
    services: ['conductor', 'pipeline', 'gateway'],
    client: true,
  });
  const heady = (...args: string[]): Promise<unknown> => system.heady(args);

  beforeAll(async () => {
    useApiKey(system.credentials.admin.key);
    await heady('keys', 'issue', 'operator', '--operator', '-s', '>');
  });

  const letters = async () => (await heady('dlq', 'ls')) as Letter[];

  // 12 s in CI
  it('refuses to redrive or replay a forged dead letter, says why, and lets it be shown and dropped', async () => {
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { forge: true } });
    const runId = res.body.runId as string;
    expect((await waitTerminal(system.gatewayUrl, [runId]))[0]?.status).toBe('SUCCEEDED');
    const jsm = await jetstreamManager(system.nc);
    // a genuine stage command with a forger's payload under its signature headers
    const genuine = await jsm.streams.getMessage('PIPELINE', {
      last_by_subj: 'pipeline.stage.plan',
    });
    if (!genuine) throw new Error('no plan command');
    const h = headers();
    for (const k of genuine.header.keys()) h.set(k, genuine.header.get(k));
    const forgedData = Uint8Array.from(genuine.data, (b, i) => (i === 5 ? b ^ 1 : b));
    await jetstream(system.nc).publish('pipeline.stage.plan', forgedData, {
      msgID: 'forged-by-test',
      headers: h,
    });

    let letter: Letter | undefined;
    const deadline = Date.now() + 15_000;
    while (!letter && Date.now() < deadline) {
      letter = (await letters()).find((l) => l.reason.startsWith('rejected (bad-signature)'));
      if (!letter) await new Promise((r) => setTimeout(r, 200));
    }
    expect(letter, 'the forged command is dead-lettered').toBeDefined();
    const seq = String(letter?.seq);

    const shown = (await heady('dlq', 'show', seq)) as {
      signature: { ok: boolean; reason?: string };
    };
    expect(shown.signature).toMatchObject({ ok: false, reason: 'bad-signature' });

    const pipelineBefore = (await jsm.streams.info('PIPELINE')).state.last_seq;
    const why = new RegExp(
      `refusing to re-sign DLQ/${seq}: its original signature does not verify \\(bad-signature`,
    );
    await expect(heady('dlq', 'redrive', seq)).rejects.toThrow(why);
    await expect(heady('dlq', 'redrive', seq, '--to-stage', 'plan')).rejects.toThrow(why);
    await expect(
      heady('replay', '--stream', 'DLQ', '--from-seq', seq, '--subject', 'dlq.PIPELINE.>'),
    ).rejects.toThrow(why);
    expect((await jsm.streams.info('PIPELINE')).state.last_seq).toBe(pipelineBefore);
    const redriven = await system.db
      .selectFrom('audit_logs')
      .select('target')
      .where('action', 'in', ['dlq.redrive', 'stream.replay'])
      .execute();
    expect(redriven).toEqual([]);

    await heady('dlq', 'drop', seq);
    expect((await letters()).map((l) => l.seq)).not.toContain(letter?.seq);
  }, 90_000);

  // 5 s in CI
  it('runs stage X when a dead-lettered command is redriven with --to-stage X', async () => {
    // the run's channel-entry command is dead-lettered before any stage took it
    const runId = await postRunWithDeadLetteredEntry(
      system,
      { toStage: true },
      'max deliveries (8) exhausted: to-stage test',
    );

    const letter = (await letters()).find((l) => l.reason.endsWith(': to-stage test'));
    expect(letter).toBeDefined();
    const out = (await heady('dlq', 'redrive', String(letter?.seq), '--to-stage', 'plan')) as {
      subject: string;
    };
    expect(out.subject).toBe('pipeline.stage.plan');

    const stages = async () =>
      (
        await system.db
          .selectFrom('pipeline_stage_runs')
          .select(['stage_name', 'status'])
          .where('pipeline_run_id', '=', runId)
          .execute()
      ).map((r) => r.stage_name);
    const deadline = Date.now() + 20_000;
    while (!(await stages()).includes('plan') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const ran = await stages();
    // plan ran, from the redriven command; channel entry, which the command first named, did not
    expect(ran).toContain('plan');
    expect(ran).not.toContain('channel-entry');
  }, 45_000);
});
