import 'reflect-metadata';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  Header,
  JetStreamServer,
  closeBus,
  compensationConsumer,
  connectBus,
  decode,
  stageConsumer,
} from '@heady/bus';
import { loadPipelineConfig, type PipelineConfig } from '@heady/config';
import { type StageName } from '@heady/contracts';
import {
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  type NewPipelineRun,
  type PipelineRun,
  RunStateRepository,
  type StageRun,
} from '@heady/db';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { PipelineModule } from '../src/app.module.js';
import { STAGES } from '../src/stages/index.js';
import { maxAttemptsOf, SPARE_DELIVERIES } from '../src/stages/stage.js';

/** A pipeline process running some stages in this test, on its own nats-server and database. */
export interface PipelineUnderTest {
  nats: TestNatsServer;
  pg: TestDatabase;
  config: PipelineConfig;
  /** The test's own pool (the pipeline has its own). */
  db: Kysely<Database>;
  /** The test's own connection: publishes commands and reads the streams. */
  bus: BusConnection;
  pub: BusPublisher;
  stop(): Promise<void>;
}

/**
 * Starts the pipeline's Nest module on the JetStream transport with the consumers `main.ts`
 * would create for `stages` (a stage's and its compensation's), signing off, fault injection
 * on (crash faults refused: NODE_ENV=development), 3 attempts per stage, a 2 s ack wait and
 * 100 ms between the consumer's redeliveries; `env` adds to (or overrides) its environment.
 */
export async function startPipeline(
  name: string,
  stages: StageName[],
  env: Record<string, string> = {},
): Promise<PipelineUnderTest> {
  const nats = await startNatsServer();
  const pg = await createTestDatabase(`heady_${name}`);
  const config = loadPipelineConfig({
    NODE_ENV: 'development',
    HEADY_FAULTS: '1',
    HEADY_SIGNING: 'off',
    LOG_LEVEL: 'silent',
    NATS_URL: nats.url,
    DATABASE_URL: pg.url,
    HEADY_PIPELINE_STAGES: stages.join(','),
    HEADY_STAGE_ACK_WAIT_MS: '2000',
    HEADY_STAGE_MAX_DELIVER: '3',
    HEADY_INSTANCE_ID: `pipeline-${name}`,
    ...env,
  });
  const logger = createLogger(config);
  const publisher = new BusPublisher(
    await connectBus(config),
    logger,
    undefined,
    undefined,
    undefined,
    config.service,
  );
  const consumers = config.stages.flatMap((s) => {
    const settings = {
      ackWaitMs: config.stageConsumer.ackWaitMs,
      maxDeliver: maxAttemptsOf(STAGES[s], config) + SPARE_DELIVERIES,
      backoffMs: [100],
    };
    return [stageConsumer(s, settings), compensationConsumer(s, settings)];
  });
  const server = new JetStreamServer({
    config,
    consumers,
    queueGroup: 'pipeline',
    logger,
    publisher,
  });
  // RuntimeModule's shutdown closes the pipeline's pool and its publisher's connection
  const app: INestMicroservice = await NestFactory.createMicroservice(
    PipelineModule.register(RuntimeModule.forRoot(config, logger, publisher)),
    { strategy: server, logger: false },
  );
  app.useGlobalFilters(new BusExceptionFilter());
  await app.listen();

  const db = createDb({ url: pg.url, poolMax: 2 });
  const bus = await connectBus({ ...config, instanceId: `test-${name}` });
  return {
    nats,
    pg,
    config,
    db,
    bus,
    pub: new BusPublisher(bus),
    async stop() {
      await app.close().catch(() => undefined);
      await closeBus(bus).catch(() => undefined);
      await db.destroy();
      await pg.drop();
      await nats.stop();
    },
  };
}

/**
 * Writes a run PENDING, as the conductor does when it admits one (through the run-state
 * repository), in a new organization.
 */
export async function acceptRun(
  db: Kysely<Database>,
  more: Partial<Omit<NewPipelineRun, 'status'>> = {},
): Promise<PipelineRun> {
  const org = await ensureOrganization(db, `org-${randomUUID()}`);
  const run = await new RunStateRepository(db).accept({
    id: randomUUID(),
    workflow_id: 'hcfullpipeline',
    org_id: org.id,
    seed: 7,
    action: 'complete',
    service_group: 'reasoning',
    input: {},
    options: {},
    ...more,
  });
  if (!run) throw new Error('run not written');
  return run;
}

/** The run's row now. */
export function runRow(db: Kysely<Database>, runId: string): Promise<PipelineRun | undefined> {
  return db.selectFrom('pipeline_runs').selectAll().where('id', '=', runId).executeTakeFirst();
}

/** The run's stage rows, by stage number. */
export function stageRows(db: Kysely<Database>, runId: string): Promise<StageRun[]> {
  return db
    .selectFrom('pipeline_stage_runs')
    .selectAll()
    .where('pipeline_run_id', '=', runId)
    .orderBy('stage_num')
    .execute();
}

/** A message stored in a stream: its sequence, subject, msg id and decoded payload. */
export interface Stored<T> {
  seq: number;
  subject: string;
  msgId: string | undefined;
  payload: T;
}

/**
 * Every message of `stream` on `subject` (wildcards allowed) so far, in stream order, read by
 * a short-lived consumer of the test's own.
 */
export async function storedOn<T>(
  bus: BusConnection,
  stream: string,
  subject: string,
): Promise<Stored<T>[]> {
  const ci = await bus.jsm.consumers.add(stream, {
    filter_subject: subject,
    ack_policy: 'none',
    deliver_policy: 'all',
    inactive_threshold: 10_000_000_000,
  });
  try {
    const n = ci.num_pending;
    const out: Stored<T>[] = [];
    if (!n) return out;
    const c = await bus.js.consumers.get(stream, ci.name);
    for await (const m of await c.fetch({ max_messages: n, expires: 2_000 })) {
      out.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.headers?.get(Header.MsgId),
        payload: decode(m.headers?.get(Header.ContentType), m.data) as T,
      });
      if (out.length === n) break;
    }
    return out;
  } finally {
    await bus.jsm.consumers.delete(stream, ci.name).catch(() => undefined);
  }
}

/**
 * Resolves once consumer `durable` of PIPELINE has delivered everything up to stream
 * sequence `seq` and holds no delivery unacknowledged: the handler settled that message.
 */
export async function settledUpTo(bus: BusConnection, durable: string, seq: number): Promise<void> {
  await eventually(async () => {
    const ci = await bus.jsm.consumers.info('PIPELINE', durable);
    return ci.delivered.stream_seq >= seq && ci.num_ack_pending === 0;
  });
}

/** What `eventually` returns: the value once truthy. */
type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Waits until `fn` returns a truthy value, and returns it. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
