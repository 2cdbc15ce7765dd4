import 'reflect-metadata';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  JetStreamServer,
  closeBus,
  compensationConsumer,
  connectBus,
  stageConsumer,
} from '@heady/bus';
import { loadPipelineConfig, type PipelineConfig } from '@heady/config';
import { type StageName } from '@heady/contracts';
import { createDb, type Database, type Kysely, type PipelineRun, type StageRun } from '@heady/db';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import {
  createTestDatabase,
  settledUpTo as settledOn,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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

export { acceptRun } from '@heady/testing';

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

export { eventually, storedOn, type Stored } from '@heady/testing';

/** Resolves once consumer `durable` of PIPELINE has settled everything up to stream sequence `seq`. */
export function settledUpTo(bus: BusConnection, durable: string, seq: number): Promise<void> {
  return settledOn(bus, 'PIPELINE', durable, seq);
}
