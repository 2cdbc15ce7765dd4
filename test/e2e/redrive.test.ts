import { copyToDlq } from '@heady/bus';
import { type Database, type Kysely } from '@heady/db';
import {
  createTestDatabase,
  type Stack,
  startNatsServer,
  startStack,
  type TestDatabase,
} from '@heady/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect, headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, postRun, useApiKey, waitTerminal } from './helpers.js';

interface Letter {
  seq: number;
  subject: string;
  reason: string;
}

// `heady dlq redrive` and `heady replay` through the real services (signing on): an operator
// signature never launders a forged message, and --to-stage really runs that stage.
describe('heady dlq redrive and heady replay', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;
  let nc: NatsConnection;
  let base: string;
  const heady = (...args: string[]): Promise<unknown> => stack.heady(args);

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_e2e_redrive');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['conductor', 'pipeline', 'gateway'],
    });
    useApiKey(stack.apiKey);
    db = openDb(pg.url);
    base = stack.gatewayUrl;
    nc = await connect({ servers: nats.url });
    await heady('keys', 'issue', 'operator', '--operator', '-s', '>');
  });

  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  const letters = async () => (await heady('dlq', 'ls')) as Letter[];

  // 12 s in CI
  it('refuses to redrive or replay a forged dead letter, says why, and lets it be shown and dropped', async () => {
    const res = await postRun(base, { action: 'chat', input: { forge: true } });
    const runId = res.body.runId as string;
    expect((await waitTerminal(base, [runId]))[0]?.status).toBe('SUCCEEDED');
    const jsm = await jetstreamManager(nc);
    // a genuine stage command with a forger's payload under its signature headers
    const genuine = await jsm.streams.getMessage('PIPELINE', {
      last_by_subj: 'pipeline.stage.plan',
    });
    if (!genuine) throw new Error('no plan command');
    const h = headers();
    for (const k of genuine.header.keys()) h.set(k, genuine.header.get(k));
    const forgedData = Uint8Array.from(genuine.data, (b, i) => (i === 5 ? b ^ 1 : b));
    await jetstream(nc).publish('pipeline.stage.plan', forgedData, {
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
    const redriven = await db
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
    await stack.services.pipeline.kill('SIGTERM');
    const res = await postRun(base, { action: 'chat', input: { toStage: true } });
    const runId = res.body.runId as string;
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage('PIPELINE', {
      last_by_subj: 'pipeline.stage.channel-entry',
    });
    if (!m) throw new Error('no channel-entry command');
    await copyToDlq(
      jetstream(nc),
      {
        stream: 'PIPELINE',
        consumer: 'stage-channel-entry',
        seq: m.seq,
        subject: m.subject,
        deliveries: 8,
        data: m.data,
        headers: m.header,
        reason: 'max deliveries (8) exhausted: to-stage test',
        storedAt: m.time.getTime(),
      },
      'handler',
    );
    await jsm.streams.deleteMessage('PIPELINE', m.seq);
    await stack.services.pipeline.start();

    const letter = (await letters()).find((l) => l.reason.endsWith(': to-stage test'));
    expect(letter).toBeDefined();
    const out = (await heady('dlq', 'redrive', String(letter?.seq), '--to-stage', 'plan')) as {
      subject: string;
    };
    expect(out.subject).toBe('pipeline.stage.plan');

    const stages = async () =>
      (
        await db
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
