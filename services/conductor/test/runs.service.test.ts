import 'reflect-metadata';
import { create } from '@bufbuild/protobuf';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  Header,
  JetStreamServer,
  closeBus,
  connectBus,
  decode,
  stageMsgId,
} from '@heady/bus';
import { loadConductorConfig } from '@heady/config';
import {
  ErrorCode,
  RunStatus,
  type StageCommand,
  StartRun,
  type StartRunRequest,
  StartRunRequestSchema,
  stageSubject,
} from '@heady/contracts';
import { createDb, type Database, ensureOrganization, type Kysely } from '@heady/db';
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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConductorModule } from '../src/app.module.js';
import { RunsService } from '../src/runs/runs.service.js';

// Run admission as the gateway reaches it: a `conductor.runs.start` request to the conductor's
// Nest module on the JetStream transport, with its own nats-server and database.
describe(RunsService.name, () => {
  let nats: TestNatsServer;
  let pg: TestDatabase;
  let dataDir: string;
  let app: INestMicroservice;
  let db: Kysely<Database>;
  let bus: BusConnection;
  let pub: BusPublisher;
  let orgId: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_conductor_runs');
    dataDir = mkdtempSync(join(tmpdir(), 'heady-conductor-'));
    const config = loadConductorConfig({
      NODE_ENV: 'development',
      HEADY_SIGNING: 'off',
      LOG_LEVEL: 'silent',
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_DATA_DIR: dataDir,
      HEADY_AUDIT_WRITER: 'false',
      HEADY_INSTANCE_ID: 'conductor-test',
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
    const server = new JetStreamServer({
      config,
      consumers: [],
      queueGroup: 'conductor',
      logger,
      publisher,
    });
    // RuntimeModule's shutdown closes the conductor's pool and its publisher's connection
    app = await NestFactory.createMicroservice(
      ConductorModule.register(RuntimeModule.forRoot(config, logger, publisher), {
        auditWriter: false,
      }),
      { strategy: server, logger: false },
    );
    app.useGlobalFilters(new BusExceptionFilter());
    await app.listen();
    db = createDb({ url: pg.url, poolMax: 2 });
    bus = await connectBus({ ...config, instanceId: 'conductor-test-client' });
    pub = new BusPublisher(bus);
    orgId = (await ensureOrganization(db, 'conductor-test')).id;
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    if (bus) await closeBus(bus).catch(() => undefined);
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const request = (more: { idempotencyKey?: string; requestHash?: string } = {}): StartRunRequest =>
    create(StartRunRequestSchema, {
      action: 'complete',
      input: { prompt: 'hello' },
      options: {},
      orgId,
      apiKeyId: '',
      route: 'POST /api/runs',
      plan: 'FREE',
      requestHash: 'hash-1',
      ...more,
    });

  const start = (req: StartRunRequest) => pub.call(StartRun, req, { timeoutMs: 10_000 });

  /** The channel-entry commands stored for `runId`, with their msg ids. */
  async function entryCommands(runId: string): Promise<{ msgId?: string; cmd: StageCommand }[]> {
    const ci = await bus.jsm.consumers.add('PIPELINE', {
      filter_subject: stageSubject('channel-entry'),
      ack_policy: 'none',
      deliver_policy: 'all',
      inactive_threshold: 10_000_000_000,
    });
    try {
      const out: { msgId?: string; cmd: StageCommand }[] = [];
      if (!ci.num_pending) return out;
      const c = await bus.js.consumers.get('PIPELINE', ci.name);
      let seen = 0;
      for await (const m of await c.fetch({ max_messages: ci.num_pending, expires: 2_000 })) {
        const cmd = decode(m.headers?.get(Header.ContentType), m.data) as StageCommand;
        if (cmd.runId === runId) out.push({ msgId: m.headers?.get(Header.MsgId), cmd });
        if (++seen === ci.num_pending) break;
      }
      return out;
    } finally {
      await bus.jsm.consumers.delete('PIPELINE', ci.name).catch(() => undefined);
    }
  }

  it('writes the run PENDING in its organization and publishes its channel-entry command', async () => {
    const reply = await start(request());
    expect(reply).toMatchObject({ status: RunStatus.PENDING, group: 'reasoning', replayed: false });

    const run = await db
      .selectFrom('pipeline_runs')
      .selectAll()
      .where('id', '=', reply.runId)
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({
      org_id: orgId,
      status: 'PENDING',
      action: 'complete',
      service_group: 'reasoning',
      request_route: 'POST /api/runs',
      request_id: null,
      input: { prompt: 'hello' },
    });

    const cmds = await entryCommands(reply.runId);
    expect(cmds).toHaveLength(1);
    expect(cmds[0]?.msgId).toBe(stageMsgId(reply.runId, 'channel-entry', 0));
    expect(cmds[0]?.cmd).toMatchObject({
      stage: 'channel-entry',
      stageNum: 0,
      iteration: 0,
      action: 'complete',
      group: 'reasoning',
      seed: BigInt(run.seed),
    });
    expect(cmds[0]?.cmd.slip?.completed).toEqual([]);
  });

  it('admits one run for an Idempotency-Key sent twice, and answers the second as the first', async () => {
    const key = `key-${randomUUID()}`;
    const first = await start(request({ idempotencyKey: key }));
    const second = await start(request({ idempotencyKey: key }));
    expect(second.runId).toBe(first.runId);
    expect([first.replayed, second.replayed]).toEqual([false, true]);

    const runs = await db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('request_id', '=', key)
      .where('org_id', '=', orgId)
      .execute();
    expect(runs).toEqual([{ id: first.runId }]);
    // the replay re-published the command of the PENDING run; JetStream kept one
    expect(await entryCommands(first.runId)).toHaveLength(1);
  });

  it('admits one run for an Idempotency-Key sent twice at once', async () => {
    const key = `key-${randomUUID()}`;
    const replies = await Promise.all([
      start(request({ idempotencyKey: key })),
      start(request({ idempotencyKey: key })),
    ]);
    expect(new Set(replies.map((r) => r.runId)).size).toBe(1);
    expect(replies.filter((r) => !r.replayed)).toHaveLength(1);
    const runs = await db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('request_id', '=', key)
      .execute();
    expect(runs).toHaveLength(1);
    expect(await entryCommands(replies[0]?.runId ?? '')).toHaveLength(1);
  });

  it('refuses an Idempotency-Key reused with another request', async () => {
    const key = `key-${randomUUID()}`;
    const first = await start(request({ idempotencyKey: key }));
    await expect(
      start(request({ idempotencyKey: key, requestHash: 'hash-2' })),
    ).rejects.toMatchObject({ code: ErrorCode.IdempotencyConflict });
    const runs = await db
      .selectFrom('pipeline_runs')
      .select('id')
      .where('request_id', '=', key)
      .execute();
    expect(runs).toEqual([{ id: first.runId }]);
  });
});
