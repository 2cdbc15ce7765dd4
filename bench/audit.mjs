// npm run bench:audit — how many audit events per second one audit-writer stores in
// audit_logs, against baselines measured in the same run on the same machine.
//
// Starts its own nats-server (temp dir) and database, and the conductor (which runs the
// `audit-writer` consumer, signing on) as its own process from its build output, exactly
// as the e2e tests do. Then, per round:
//   A. publish:  --events signed audit events published into AUDIT as fast as this process
//                can (the rate events arrive at in a rejection burst) — with the writer
//                stopped, so they wait as a backlog;
//   B. writer:   the conductor started again; the time until every one of them is a row of
//                audit_logs: events written per second by one audit-writer (batched inserts,
//                each message acked after its batch commits);
//   C. baseline: the same backlog drained by the same writer with HEADY_AUDIT_BATCH_MAX=1
//                (one insert per event, each acked after its insert: the writer before batching).
//
// Usage: npm run bench:audit -- [--events 20000] [--rounds 2]
// Each figure is the median over the rounds.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { BusPublisher, KvKeyRegistry, connectBus } from '@heady/bus';
import { AuditEventSchema } from '@heady/contracts';
import { createDb, sql } from '@heady/db';
import { MessageSigner, loadIdentity, loadRootPublicKey, newEpoch } from '@heady/pqc';
import {
  ServiceProcess,
  createTestDatabase,
  freePort,
  startNatsServer,
  startStack,
} from '@heady/testing';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '2' },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (line) => process.stdout.write(`${line}\n`);

const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_audit');
let stack;
let bus;
let oneRow;
try {
  out(`machine: ${(await import('node:os')).cpus().length} cores, node ${process.version}`);
  stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['conductor'],
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  });
  const conductor = stack.services.conductor;
  const db = createDb({ url: pg.url, poolMax: 2 });
  const rows = async () =>
    /** @type {number} */ (
      (
        await db
          .selectFrom('audit_logs')
          .select(sql`count(*)::int`.as('n'))
          .executeTakeFirstOrThrow()
      ).n
    );

  // sign as the conductor's identity would (audit.> is among its subjects)
  const keysDir = join(stack.dataDir, 'keys');
  bus = await connectBus({
    instanceId: 'bench-audit',
    nats: {
      url: nats.url,
      rpcTimeoutMs: 5000,
      streamMaxAgeDays: 1,
      duplicateWindowSeconds: 120,
      consumerConcurrency: 32,
    },
  });
  const registry = await KvKeyRegistry.open(bus.nc, loadRootPublicKey(keysDir));
  const epoch = newEpoch(loadIdentity(keysDir, 'conductor'), 'bench-audit', 3_600_000);
  await registry.putEpoch(epoch.cert);
  const pub = new BusPublisher(
    bus,
    undefined,
    new MessageSigner(epoch, {
      publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
    }),
  );
  const event = (i) => ({
    schema: AuditEventSchema,
    message: create(AuditEventSchema, {
      id: randomUUID(),
      actor: 'bench',
      action: 'MESSAGE_REJECTED',
      target: 'pipeline.stage.plan',
      status: 'bad-signature',
      details: { stream: 'PIPELINE', seq: i, detail: 'benchmark' },
      at: timestampNow(),
    }),
  });

  // the same conductor with one insert per event, on its own ops port
  const oneRowPort = await freePort();
  oneRow = new ServiceProcess(
    'conductor',
    oneRowPort,
    {
      HEADY_OPS_PORT: String(oneRowPort),
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_DATA_DIR: stack.dataDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      HEADY_AUDIT_BATCH_MAX: '1',
    },
    join(stack.dataDir, 'conductor-one-row.log'),
  );

  /** Publishes EVENTS signed audit events as fast as this process can; returns events/s. */
  const publishBacklog = async () => {
    const t = performance.now();
    for (let i = 0; i < EVENTS; i += 256)
      await Promise.all(
        Array.from({ length: Math.min(256, EVENTS - i) }, (_, j) =>
          pub.publish('audit.bench', event(i + j), { msgId: `audit:bench:${randomUUID()}` }),
        ),
      );
    return EVENTS / ((performance.now() - t) / 1000);
  };
  /** Starts `writer` on the backlog; times its first row to its last (its start not counted). */
  const drain = async (writer) => {
    const before = (await rows()) - 0;
    const target = before + EVENTS;
    const failedBefore = writer.lines.filter((l) => l.includes('handler failed')).length;
    const started = writer.start().then(
      () => undefined,
      (e) => e,
    );
    let first;
    while ((first = await rows()) === before) await sleep(5);
    const t = performance.now();
    while ((await rows()) < target) await sleep(20);
    const seconds = (performance.now() - t) / 1000;
    const notReady = await started;
    if (notReady) throw notReady;
    const drained = target - first;
    const failed = writer.lines.filter((l) => l.includes('handler failed')).length - failedBefore;
    return { rate: drained / seconds, drained, seconds, failed };
  };

  /** @type {{ publish: number[], writer: number[], baseline: number[] }} */
  const figures = { publish: [], writer: [], baseline: [] };
  for (let round = 0; round < ROUNDS; round++) {
    out(`round ${round + 1}/${ROUNDS}: ${fmt(EVENTS)} events`);
    // A. a backlog, published while the writer is stopped
    await conductor.kill('SIGTERM');
    const rate = await publishBacklog();
    figures.publish.push(rate);
    out(`   A. publish:  ${fmt(rate)} events/s into AUDIT`);

    // B. one batching audit-writer drains it
    const b = await drain(conductor);
    figures.writer.push(b.rate);
    out(
      `   B. writer:   ${fmt(b.rate)} events/s written by one audit-writer, batched (${fmt(b.drained)} rows in ${fmt(b.seconds, 1)} s; ${b.failed} deliveries retried)`,
    );

    // C. the same backlog, one insert per event
    await conductor.kill('SIGTERM');
    await publishBacklog();
    const c = await drain(oneRow);
    figures.baseline.push(c.rate);
    out(
      `   C. baseline: ${fmt(c.rate)} events/s with one insert per event (${fmt(c.drained)} rows in ${fmt(c.seconds, 1)} s; ${c.failed} deliveries retried)`,
    );
    await oneRow.kill('SIGTERM');
    await conductor.start();
  }
  const w = median(figures.writer);
  const b = median(figures.baseline);
  out(
    `median of ${ROUNDS}: audit-writer ${fmt(w)} events/s batched, ${fmt(b)} events/s one insert per event (×${fmt(w / b, 1)}); publish ${fmt(median(figures.publish))} events/s`,
  );
  await db.destroy();
} finally {
  await bus?.nc.close();
  await oneRow?.dispose();
  await stack?.stop();
  await pg.drop();
  await nats.stop();
}
