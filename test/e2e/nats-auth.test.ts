import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildProcess } from 'node:child_process';
import { STREAMS, ensureStreams } from '@heady/bus';
import { freePort, runHeady } from '@heady/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// plain Node (it runs before pnpm install); npm start brings its NATS up with it
import { startOwnNats } from '../../deploy/local/up.mjs';

// The NATS that npm start runs: `heady nats config` writes the users and the configuration,
// deploy/local starts nats-server from it. Nothing else of the stack is needed here.
describe("npm start's own NATS (heady nats config + deploy/local startOwnNats)", () => {
  let dir: string;
  let port: number;
  let child: ChildProcess | undefined;

  const as = (user: string): Promise<NatsConnection> =>
    connect({
      servers: `nats://127.0.0.1:${port}`,
      reconnect: false,
      timeout: 2000,
      authenticator: nkeyAuthenticator(
        new TextEncoder().encode(readFileSync(join(dir, `${user}.nk`), 'utf8').trim()),
      ),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heady-own-nats-'));
    port = await freePort();
    await runHeady(['nats', 'config', '--dir', dir, '--port', String(port)], {});
    child = await startOwnNats({
      configFile: join(dir, 'nats-server.conf'),
      host: '127.0.0.1',
      port,
      logFile: join(dir, 'nats-server.log'),
      pidFile: join(dir, 'nats-server.pid'),
      log: () => undefined,
    });
    const operator = await as('operator');
    await ensureStreams(await jetstreamManager(operator), STREAMS, {
      nats: { url: '', streamMaxAgeDays: 1, duplicateWindowSeconds: 60 } as never,
    });
    await operator.close();
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without credentials', async () => {
    await expect(
      connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false, timeout: 2000 }),
    ).rejects.toThrow(/authorization violation/i);
  });

  it("refuses the gateway's user a publish of pipeline.stage.plan and lets the conductor start a run's first stage", async () => {
    const gateway = await as('gateway');
    const conductor = await as('conductor');
    try {
      await expect(
        jetstream(gateway, { timeout: 2000 }).publish('pipeline.stage.plan', 'x'),
      ).rejects.toThrow(/permissions violation/i);
      const ack = await jetstream(conductor, { timeout: 2000 }).publish(
        'pipeline.stage.channel-entry',
        'y',
      );
      expect(ack.stream).toBe('PIPELINE');
      expect(readFileSync(join(dir, 'nats-server.log'), 'utf8')).toMatch(
        /Publish Violation.*pipeline\.stage\.plan/,
      );
    } finally {
      await gateway.close();
      await conductor.close();
    }
  });
});
