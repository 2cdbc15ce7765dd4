import { type BusConnection } from '@heady/bus';
import { REPO_ROOT, type TestNatsServer } from '@heady/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliBus } from './fixtures.js';

// `npx heady` is the form every README and docs page uses: the root package depends on
// @heady/cli, so its bin is linked into node_modules/.bin after install.
describe('npx heady', () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let dataDir: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    ({ nats, bus } = await startCliBus('test-npx-heady'));
    // a data dir without npm start's operator seed: the CLI goes to NATS_URL as given
    dataDir = mkdtempSync(join(tmpdir(), 'heady-npx-'));
    env = { ...process.env, NATS_URL: nats.url, HEADY_DATA_DIR: dataDir };
  });

  afterAll(async () => {
    await bus?.nc.close();
    await nats?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  // each command starts a Node process through npx or npm: seconds each on a loaded machine
  it(
    'prints exactly JSON on stdout with --json, through npx and a pipe',
    { timeout: 60_000 },
    async () => {
      const { stdout } = await promisify(execFile)(
        'sh',
        [
          '-c',
          `npx heady --json streams ls | "${process.execPath}" -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(JSON.stringify(v.map((s) => s.stream).sort()))'`,
        ],
        { cwd: REPO_ROOT, env, timeout: 60_000 },
      );
      const streams = JSON.parse(stdout) as string[];
      expect(streams).toEqual(expect.arrayContaining(['AUDIT', 'DLQ', 'PIPELINE', 'RUN_EVENTS']));
    },
  );

  it(
    'prints exactly JSON on stdout with --json through npm run -s heady',
    { timeout: 60_000 },
    async () => {
      const { stdout } = await promisify(execFile)(
        'npm',
        ['run', '-s', 'heady', '--', '--json', 'streams', 'ls'],
        { cwd: REPO_ROOT, env, timeout: 60_000 },
      );
      const rows = JSON.parse(stdout) as { stream: string }[];
      expect(rows.map((r) => r.stream)).toContain('PIPELINE');
    },
  );

  it('says on stderr, not stdout, when a command fails', { timeout: 60_000 }, async () => {
    const run = promisify(execFile)('npx', ['heady', '--json', 'dlq', 'show', '999999'], {
      cwd: REPO_ROOT,
      env,
      timeout: 60_000,
    });
    await expect(run).rejects.toMatchObject({
      stdout: '',
      stderr: expect.stringMatching(/heady: /),
    });
  });
});
