import { connectBus, ensureTopology, type BusConnection } from '@heady/bus';
import { REPO_ROOT, startNatsServer, type TestNatsServer } from '@heady/testing';
import { join } from 'node:path';

/** The built CLI, run by the tests as an operator runs it. */
export const CLI = join(REPO_ROOT, 'libs/cli/dist/main.js');

/** A nats-server of the test's own with Heady's streams, and a bus connection to it. */
export async function startCliBus(
  instanceId: string,
): Promise<{ nats: TestNatsServer; bus: BusConnection }> {
  const nats = await startNatsServer();
  const config = {
    service: 'test',
    instanceId,
    nats: {
      url: nats.url,
      rpcTimeoutMs: 2000,
      streamMaxAgeDays: 1,
      duplicateWindowSeconds: 60,
      consumerConcurrency: 16,
    },
  };
  const bus = await connectBus(config);
  await ensureTopology(bus.nc, { config, jsm: bus.jsm });
  return { nats, bus };
}
