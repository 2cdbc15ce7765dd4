import { copyToDlq, type BusConnection } from '@heady/bus';
import { type TestNatsServer } from '@heady/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCliBus } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// `heady dlq ls` and `heady replay` narrowed by time, stream, reason and count, against a
// real nats-server: an older batch, a pause, then a newer one.
// every CLI call starts a Node process: generous timeouts on a loaded machine
describe('heady dlq ls and replay filters', { timeout: 180_000 }, () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let env: Record<string, string | undefined>;
  /** A time between the older and the newer batch. */
  let between: string;

  const letter = (stream: string, seq: number, reason: string) =>
    copyToDlq(
      bus.js,
      {
        stream,
        consumer: stream === 'WORK' ? 'work-reasoning' : 'stage-plan',
        seq,
        subject: stream === 'WORK' ? 'work.reasoning' : 'pipeline.stage.plan',
        deliveries: 1,
        data: new Uint8Array(4),
        headers: undefined,
        reason,
      },
      'handler',
    );

  beforeAll(async () => {
    ({ nats, bus } = await startCliBus('test-ops-filters'));
    // older: 5 PIPELINE rejections, 3 WORK handler failures; 4 audit events
    for (let i = 1; i <= 5; i++) await letter('PIPELINE', i, 'rejected (bad-signature): forged');
    for (let i = 1; i <= 3; i++) await letter('WORK', i, 'handler failed: boom');
    for (let i = 1; i <= 4; i++) await bus.js.publish('audit.test', new Uint8Array([i]));
    await sleep(1_200);
    between = new Date().toISOString();
    await sleep(1_200);
    // newer: 2 PIPELINE max-deliveries, 1 WORK handler failure; 3 audit events
    for (let i = 6; i <= 7; i++) await letter('PIPELINE', i, 'max deliveries (5) exceeded');
    await letter('WORK', 4, 'handler failed: again');
    for (let i = 5; i <= 7; i++) await bus.js.publish('audit.test', new Uint8Array([i]));
    env = { ...process.env, NATS_URL: nats.url };
  });

  afterAll(async () => {
    await bus?.nc.close();
    await nats?.stop();
  });

  const heady = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(
      (await promisify(execFile)(process.execPath, [CLI, '--json', ...args], { env })).stdout,
    ) as T;
  const fails = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, '--json', ...args], { env }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );

  type Row = { seq: number; from: string; class: string };

  it('lists the newest dead letters first with --newest', async () => {
    const rows = await heady<Row[]>('dlq', 'ls', '--newest', '--limit', '3');
    expect(rows.map((r) => r.seq)).toEqual([11, 10, 9]);
    const all = await heady<Row[]>('dlq', 'ls', '--newest');
    expect(all.map((r) => r.seq)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('narrows by stream, reason class and time, and combines them', async () => {
    const work = await heady<Row[]>('dlq', 'ls', '--stream', 'WORK');
    expect(work.map((r) => r.from)).toEqual(['WORK/1', 'WORK/2', 'WORK/3', 'WORK/4']);
    const recent = await heady<Row[]>('dlq', 'ls', '--since', between);
    expect(recent.map((r) => r.seq)).toEqual([9, 10, 11]);
    const recentPipeline = await heady<Row[]>(
      'dlq',
      'ls',
      '--newest',
      '--stream',
      'PIPELINE',
      '--since',
      between,
    );
    expect(recentPipeline.map((r) => r.from)).toEqual(['PIPELINE/7', 'PIPELINE/6']);
    const maxDeliveries = await heady<Row[]>(
      'dlq',
      'ls',
      '--reason',
      'max-deliveries',
      '--since',
      '1h',
    );
    expect(maxDeliveries.map((r) => r.class)).toEqual(['max-deliveries', 'max-deliveries']);
    // nothing matches: an empty list at once, not a wait
    expect(await heady<Row[]>('dlq', 'ls', '--stream', 'BILLING')).toEqual([]);
    expect(await heady<Row[]>('dlq', 'ls', '--since', '2099-01-01T00:00:00Z')).toEqual([]);
  });

  it('refuses a time that is not one, and --newest with --from-seq', async () => {
    expect(await fails('dlq', 'ls', '--since', 'yesterday')).toMatch(/--since: not a time/);
    expect(await fails('dlq', 'ls', '--newest', '--from-seq', '3')).toMatch(/--newest/);
    expect(await fails('replay', '--stream', 'AUDIT', '--since', '5 min', '--dry-run')).toMatch(
      /--since: not a time/,
    );
  });

  it('replays a window of time, a duration back from now, and at most --limit messages', async () => {
    type Replay = { dryRun: boolean; replayed: { seq: number; subject: string }[] };
    const seqs = (r: Replay) => r.replayed.map((m) => m.seq);
    const all = await heady<Replay>('replay', '--stream', 'AUDIT', '--since', '10m', '--dry-run');
    expect(all.dryRun).toBe(true);
    expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const older = await heady<Replay>(
      'replay',
      '--stream',
      'AUDIT',
      '--from-seq',
      '1',
      '--until',
      between,
      '--dry-run',
    );
    expect(seqs(older)).toEqual([1, 2, 3, 4]);
    const newer = await heady<Replay>(
      'replay',
      '--stream',
      'AUDIT',
      '--since',
      between,
      '--dry-run',
    );
    expect(seqs(newer)).toEqual([5, 6, 7]);
    const two = await heady<Replay>(
      'replay',
      '--stream',
      'AUDIT',
      '--since',
      '1h',
      '--limit',
      '2',
      '--dry-run',
    );
    expect(seqs(two)).toEqual([1, 2]);
    expect(await fails('replay', '--stream', 'AUDIT', '--since', between, '--until', '1h')).toMatch(
      /--since must be before --until/,
    );
  });
});
