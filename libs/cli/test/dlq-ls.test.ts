import { copyToDlq, type BusConnection } from '@heady/bus';
import { type TestNatsServer } from '@heady/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCliBus } from './fixtures.js';

const COUNT = 3_000;

describe('heady dlq ls', () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    ({ nats, bus } = await startCliBus('test-dlq-ls'));
    const reason = `rejected (bad-signature): ${'a long detail to make the listing large '.repeat(3)}`;
    for (let i = 0; i < COUNT; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          copyToDlq(
            bus.js,
            {
              stream: 'PIPELINE',
              consumer: 'stage-plan',
              seq: i + j + 1,
              subject: 'pipeline.stage.plan',
              deliveries: 1,
              data: new Uint8Array(8),
              headers: undefined,
              reason,
            },
            'handler',
          ),
        ),
      );
    env = { ...process.env, NATS_URL: nats.url };
  });

  afterAll(async () => {
    await bus?.nc.close();
    await nats?.stop();
  });

  it('writes complete JSON into a pipe, however large', async () => {
    const { stdout } = await promisify(execFile)(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${CLI}" --json dlq ls --limit 5000 | "${process.execPath}" -e 'const v = JSON.parse(require("fs").readFileSync(0)); console.log(v.length)'`,
      ],
      { env, timeout: 60_000 },
    );
    expect(Number(stdout.trim())).toBe(COUNT);
  });

  it('pages with --limit and --from-seq', async () => {
    const run = async (...args: string[]) =>
      JSON.parse(
        (
          await promisify(execFile)(process.execPath, [CLI, '--json', 'dlq', 'ls', ...args], {
            env,
          })
        ).stdout,
      ) as { seq: number; from: string; class: string }[];
    const first = await run('--limit', '10');
    expect(first.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(first[0]).toMatchObject({ from: 'PIPELINE/1', class: 'rejected:bad-signature' });
    const second = await run('--limit', '10', '--from-seq', String((first.at(-1)?.seq ?? 0) + 1));
    expect(second.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
    expect(await run('--limit', '10', '--from-seq', String(COUNT + 1))).toEqual([]);
  });
});
