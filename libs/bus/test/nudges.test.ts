import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nudgesOn } from '../src/index.js';

// A poller's sleep cut short by a publish on a real nats-server.
describe(nudgesOn.name, () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect(server.connectOptions());
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  it('wakes a wait as soon as something is published on the subject', async () => {
    const nudges = nudgesOn(nc, 'runs.r1.task.*');
    await nc.flush();
    const started = performance.now();
    setTimeout(() => nc.publish('runs.r1.task.succeeded', 'x'), 50);
    await nudges.wait(5_000);
    expect(performance.now() - started).toBeLessThan(2_000);
    nudges.close();
  });

  it('returns at once for a message that came before the wait, and sleeps out otherwise', async () => {
    const nudges = nudgesOn(nc, 'runs.r2.task.*');
    await nc.flush();
    nc.publish('runs.r2.task.failed', 'x');
    // another subject wakes nothing
    nc.publish('runs.r3.task.failed', 'x');
    await nc.flush();
    let t = performance.now();
    await nudges.wait(5_000);
    expect(performance.now() - t).toBeLessThan(2_000);
    t = performance.now();
    await nudges.wait(300);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    nudges.close();
  });

  it("rejects with the caller's abort", async () => {
    const nudges = nudgesOn(nc, 'runs.r4.task.*');
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('cancelled')), 30);
    await expect(nudges.wait(5_000, stop.signal)).rejects.toThrow('cancelled');
    nudges.close();
  });
});
