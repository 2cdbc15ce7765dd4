// High availability on the bus: three local nats-servers as one JetStream cluster, the stack
// with every stream and KV bucket at three replicas (HEADY_STREAM_REPLICAS=3), and one
// server killed mid-load, then started again on its port and store. Every run ends as
// expected with each effect once and no run lost or duplicated (the chaos drills' assertions,
// chaos-helpers.ts). 50 runs, to stay short.
import { type Database, type Kysely } from '@heady/db';
import {
  createTestDatabase,
  freePort,
  type Stack,
  startNatsServer,
  startStack,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDrill, recordEffects, submitRuns, waitTerminalInDb } from './chaos-helpers.js';
import { openDb, useApiKey } from './helpers.js';

const RUNS = 50;
const env = {
  HEADY_STAGE_ACK_WAIT_MS: '3000',
  HEADY_FAULTS: '1',
  LOG_LEVEL: 'warn',
  HEADY_STREAM_REPLICAS: '3',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos: one of three clustered nats-servers killed and restarted under load (R3)', () => {
  const servers: TestNatsServer[] = [];
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;

  beforeAll(async () => {
    const clusterPorts = [await freePort(), await freePort(), await freePort()];
    const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    for (const [i, cp] of clusterPorts.entries())
      servers.push(
        await startNatsServer({
          args: [
            '--name',
            `heady-${i}`,
            '--cluster_name',
            'heady',
            '--cluster',
            `nats://127.0.0.1:${cp}`,
            '--routes',
            routes,
          ],
        }),
      );
    // JetStream answers once the cluster has elected its meta leader
    const nc = await connect({ servers: servers.map((s) => s.url) });
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    for (let deadline = Date.now() + 60_000; ;) {
      const ok = await jsm.getAccountInfo().then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error('the JetStream cluster did not form');
      await sleep(250);
    }
    await nc.close();
    pg = await createTestDatabase('heady_e2e_nats_cluster');
    db = openDb(pg.url);
    await recordEffects(db);
    stack = await startStack({
      natsUrl: servers.map((s) => s.url).join(','),
      databaseUrl: pg.url,
      services: ['conductor', 'pipeline', 'gateway'],
      env,
    });
    useApiKey(stack.apiKey);
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    for (const s of servers) await s.stop();
  });

  // 55 s on a busy 2-core machine (90 s with the stack start)
  it(`ends all ${RUNS} runs as expected with R3 streams while a server is down`, async () => {
    const nc = await connect({ servers: servers[0]!.url });
    const jsm = await jetstreamManager(nc);
    for (const name of ['PIPELINE', 'RUN_EVENTS', 'KV_heady-keys'])
      expect((await jsm.streams.info(name)).config.num_replicas, name).toBe(3);
    await nc.close();

    let outage: Promise<number> | undefined;
    const runs = await submitRuns(stack.gatewayUrl, RUNS, 4, (n, ids) => {
      if (n !== 30) return;
      outage = (async () => {
        const inFlight = (await waitTerminalInDb(db, ids, 1)).length;
        await servers[1]!.kill();
        await sleep(3_000);
        await servers[1]!.start();
        return inFlight;
      })();
    });
    const inFlight = await outage;
    console.log(`nats cluster: ${inFlight} runs in flight when a server was killed`);
    expect(inFlight).toBeGreaterThan(0);
    expect(
      await waitTerminalInDb(
        db,
        runs.map((r) => r.id),
        180_000,
      ),
    ).toEqual([]);
    await assertDrill(db, servers[0]!.url, runs);
    expect(stack.services.pipeline.running).toBe(true);
  }, 360_000);
});
