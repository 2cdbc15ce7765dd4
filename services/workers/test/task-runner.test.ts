import 'reflect-metadata';
import { type JsonObject } from '@bufbuild/protobuf';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  closeBus,
  connectBus,
  JetStreamServer,
  workConsumer,
} from '@heady/bus';
import { loadWorkersConfig, type WorkersConfig } from '@heady/config';
import {
  type RunEvent,
  TaskSchema,
  task,
  taskMsgId,
  type TaskInit,
  workSubject,
} from '@heady/contracts';
import { createDb, type Database, type Kysely, type PipelineRun } from '@heady/db';
import { LOCAL_MODEL } from '@heady/providers';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import {
  acceptRun as accept,
  createTestDatabase,
  eventually,
  type FakeModelServer,
  settledUpTo,
  startFakeModelServer,
  startNatsServer,
  storedOn,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkersModule } from '../src/app.module.js';
import { TASK_MAX_ATTEMPTS, TaskRunner } from '../src/tasks/task-runner.service.js';

// The workers as their process runs them: JetStream delivers a task of `work.<group>` to the
// `workers` durable, the runner claims it in PostgreSQL and runs it on the group's providers.
// `reasoning` is served by a fake OpenAI-compatible server, then the local provider; `coding`
// by the local provider alone; `vision` by the fake alone.
describe(TaskRunner.name, () => {
  let nats: TestNatsServer;
  let pg: TestDatabase;
  let fake: FakeModelServer;
  let app: INestMicroservice;
  let db: Kysely<Database>;
  let bus: BusConnection;
  let pub: BusPublisher;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_workers');
    fake = await startFakeModelServer();
    const config: WorkersConfig = loadWorkersConfig({
      NODE_ENV: 'development',
      HEADY_SIGNING: 'off',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_INSTANCE_ID: 'workers-test',
      // the lease a delivery holds a task by (the consumer below redelivers after as long)
      HEADY_WORK_ACK_WAIT_MS: '2000',
      HEADY_REDIS_PREFIX: `heady-test:${randomUUID().slice(0, 8)}:`,
      HEADY_PROVIDERS: JSON.stringify([
        {
          name: 'fake',
          kind: 'openai-compatible',
          baseUrl: fake.openaiBaseURL,
          model: 'fake-model',
          groups: ['reasoning'],
        },
        // `vision` has no fallback
        {
          name: 'fake-vision',
          kind: 'openai-compatible',
          baseUrl: fake.openaiBaseURL,
          model: 'fake-vision-model',
          groups: ['vision'],
        },
        { name: 'local', kind: 'local', groups: ['reasoning', 'coding'] },
      ]),
    });
    const logger = createLogger(config);
    const publisher = new BusPublisher(await connectBus(config), logger);
    const server = new JetStreamServer({
      config,
      consumers: [
        workConsumer({
          ackWaitMs: config.work.ackWaitMs,
          maxDeliver: TASK_MAX_ATTEMPTS + 5,
          backoffMs: [100],
        }),
      ],
      queueGroup: 'workers',
      logger,
      publisher,
    });
    app = await NestFactory.createMicroservice(
      WorkersModule.register(RuntimeModule.forRoot(config, logger, publisher)),
      { strategy: server, logger: false },
    );
    app.useGlobalFilters(new BusExceptionFilter());
    await app.listen();
    db = createDb({ url: pg.url, poolMax: 2 });
    bus = await connectBus({ ...config, instanceId: 'workers-test-client' });
    pub = new BusPublisher(bus);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await closeBus(bus).catch(() => undefined);
    await db?.destroy();
    await fake?.close();
    await pg?.drop();
    await nats?.stop();
  });

  const acceptRun = (group = 'reasoning'): Promise<PipelineRun> =>
    accept(db, { service_group: group });

  async function send(t: TaskInit, msgId?: string): Promise<number> {
    const message = task(t);
    const ack = await pub.publish(
      workSubject(t.group),
      { schema: TaskSchema, message },
      { msgId: msgId ?? taskMsgId(message) },
    );
    return ack.seq;
  }

  const row = (runId: string, taskId: string) =>
    db
      .selectFrom('task_runs')
      .selectAll()
      .where('run_id', '=', runId)
      .where('task_id', '=', taskId)
      .executeTakeFirst();

  const settled = (runId: string, taskId: string) =>
    eventually(async () => {
      const r = await row(runId, taskId);
      return r && r.status !== 'RUNNING' && r;
    });

  async function taskEvents(runId: string): Promise<RunEvent[]> {
    const all = await storedOn<RunEvent>(bus, 'RUN_EVENTS', `runs.${runId}.>`);
    return all.map((m) => m.payload).filter((e) => e.event.startsWith('task.'));
  }

  const chat = (question: string): JsonObject => ({
    messages: [{ role: 'user', content: question }],
  });

  it("answers a chat task on its group's primary provider and announces it", async () => {
    const run = await acceptRun();
    fake.enqueue({ tokens: ['Paris', ' is', ' the', ' capital.'] });
    await send({
      runId: run.id,
      taskId: 't1',
      group: 'reasoning',
      kind: 'chat',
      input: chat('Capital of France?'),
    });

    const r = await settled(run.id, 't1');
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({ text: 'Paris is the capital.', finishReason: 'stop' });
    expect([r.provider, r.model]).toEqual(['fake', 'fake-model']);
    expect(r.completion_tokens).toBeGreaterThan(0);
    // the task's row belongs to the run's organization
    expect(r.org_id).toBe(run.org_id);
    expect(fake.calls(`${run.id}:0:t1`)).toBe(1);

    const events = await eventually(async () => {
      const e = await taskEvents(run.id);
      return e.length === 1 && e;
    });
    expect(events[0]?.event).toBe('task.succeeded');
    expect(events[0]?.detail).toMatchObject({
      taskId: 't1',
      provider: 'fake',
      model: 'fake-model',
    });
    // the answer stays in task_runs: run events are read by many
    expect(JSON.stringify(events[0]?.detail)).not.toContain('Paris');
  });

  it('falls back to the next provider when the primary answers 500, and says what it tried', async () => {
    const run = await acceptRun();
    fake.enqueue({ status: 500 });
    await send({
      runId: run.id,
      taskId: 't1',
      group: 'reasoning',
      kind: 'chat',
      input: {
        ...chat('When did Apollo 11 land?'),
        context: [{ source: 'almanac', text: 'Apollo 11 landed on the Moon on July 20, 1969.' }],
      },
    });
    const r = await settled(run.id, 't1');
    expect(r.status).toBe('SUCCEEDED');
    expect([r.provider, r.model]).toEqual(['local', LOCAL_MODEL]);
    expect(String(r.output?.text)).toContain('July 20, 1969');
    expect(r.tried).toMatchObject([
      { provider: 'fake', outcome: 'failed', errorKind: 'unavailable' },
      { provider: 'local', outcome: 'answered' },
    ]);
  });

  it('only re-announces a task that is redelivered after it was answered: no second call', async () => {
    const run = await acceptRun();
    await send({
      runId: run.id,
      taskId: 't1',
      group: 'reasoning',
      kind: 'chat',
      input: chat('Hello?'),
    });
    const first = await settled(run.id, 't1');
    // a delivery the first one's lost ack left behind (another msg id, or JetStream would drop it)
    const seq = await send(
      { runId: run.id, taskId: 't1', group: 'reasoning', kind: 'chat', input: chat('Hello?') },
      `again-${randomUUID()}`,
    );
    await settledUpTo(bus, 'WORK', 'workers', seq);
    const after = await row(run.id, 't1');
    expect(after?.attempts).toBe(1);
    expect(after?.finished_at).toEqual(first.finished_at);
    expect(fake.calls(`${run.id}:0:t1`)).toBe(1);
  });

  it('keeps a second delivery of a task off the provider while the first still holds it', async () => {
    const run = await acceptRun();
    fake.enqueue({ latencyMs: 1_500, tokens: ['slow', ' answer'] });
    const t = { runId: run.id, taskId: 't1', group: 'reasoning', kind: 'chat' as const };
    await send({ ...t, input: chat('Slow?') });
    await eventually(() => fake.calls(`${run.id}:0:t1`) === 1);
    // JetStream redelivering it meanwhile (its worker slow to acknowledge), as another msg id
    const seq = await send({ ...t, input: chat('Slow?') }, `again-${randomUUID()}`);
    const r = await settled(run.id, 't1');
    expect(r.output).toMatchObject({ text: 'slow answer' });
    await settledUpTo(bus, 'WORK', 'workers', seq);
    expect(fake.calls(`${run.id}:0:t1`)).toBe(1);
    expect((await row(run.id, 't1'))?.attempts).toBe(1);
  });

  it('moves on to the fallback at once when the primary is rate limited', async () => {
    const run = await acceptRun('reasoning');
    fake.enqueue({ status: 429, retryAfter: '0' });
    await send({
      runId: run.id,
      taskId: 't1',
      group: 'reasoning',
      kind: 'chat',
      input: chat('Hi'),
    });
    const r = await settled(run.id, 't1');
    expect(r.status).toBe('SUCCEEDED');
    // a 429 moves on without waiting: the fallback answered in the same attempt
    expect(r.attempts).toBe(1);
    expect(r.tried).toMatchObject([
      { provider: 'fake', outcome: 'failed', errorKind: 'rate_limited' },
      { provider: 'local', outcome: 'answered' },
    ]);
  });

  it('retries a task whose only provider failed, after a pause, and answers it on the next attempt', async () => {
    const run = await acceptRun('vision');
    fake.enqueue({ status: 500 });
    await send({ runId: run.id, taskId: 't1', group: 'vision', kind: 'chat', input: chat('Hi') });
    const r = await settled(run.id, 't1');
    expect(r.status).toBe('SUCCEEDED');
    expect(r.attempts).toBe(2);
    expect(r.provider).toBe('fake-vision');
    expect(fake.calls(`${run.id}:0:t1`)).toBe(2);
  });

  it(`fails a task for good after ${TASK_MAX_ATTEMPTS} attempts, and announces why`, async () => {
    const run = await acceptRun('vision');
    fake.enqueue(...Array.from({ length: TASK_MAX_ATTEMPTS }, () => ({ status: 503 })));
    await send({ runId: run.id, taskId: 't1', group: 'vision', kind: 'chat', input: chat('Hi') });
    const r = await settled(run.id, 't1');
    expect(r.status).toBe('FAILED');
    expect(r.attempts).toBe(TASK_MAX_ATTEMPTS);
    expect(r.tried).toMatchObject([
      { provider: 'fake-vision', outcome: 'failed', errorKind: 'unavailable' },
    ]);
    const events = await eventually(async () => {
      const e = await taskEvents(run.id);
      return e.length === 1 && e;
    });
    expect(events[0]?.event).toBe('task.failed');
    expect(events[0]?.error).toBe(r.error);
  }, 20_000);

  it('embeds texts on the local provider for a group it alone serves', async () => {
    const run = await acceptRun('coding');
    await send({
      runId: run.id,
      taskId: 'e1',
      group: 'coding',
      kind: 'embed',
      input: { texts: ['a b', 'c d'] },
    });
    const r = await settled(run.id, 'e1');
    expect(r.status).toBe('SUCCEEDED');
    const out = r.output as { vectors: number[][]; dimensions: number };
    expect(out.vectors).toHaveLength(2);
    expect(out.vectors[0]).toHaveLength(out.dimensions);
    expect(r.provider).toBe('local');
  });

  it('fails a task with malformed input for good: recorded, announced, and dead-lettered with its reason', async () => {
    const run = await acceptRun();
    await send({
      runId: run.id,
      taskId: 'bad',
      group: 'reasoning',
      kind: 'chat',
      input: { messages: 'nope' },
    });
    const r = await settled(run.id, 'bad');
    expect(r.status).toBe('FAILED');
    expect(r.error).toMatch(/^chat input: /);
    const events = await eventually(async () => {
      const e = await taskEvents(run.id);
      return e.length === 1 && e;
    });
    expect(events[0]?.event).toBe('task.failed');
    const dead = await eventually(async () => {
      const d = await storedOn(bus, 'DLQ', 'dlq.WORK.workers');
      return d.length > 0 && d;
    });
    expect(dead.length).toBe(1);
    expect(fake.calls(`${run.id}:0:bad`)).toBe(0);
  });

  it('dead-letters a task of a run that does not exist, and runs nothing', async () => {
    const runId = randomUUID();
    const before = fake.requests.length;
    const seq = await send({
      runId,
      taskId: 't1',
      group: 'reasoning',
      kind: 'chat',
      input: chat('?'),
    });
    await settledUpTo(bus, 'WORK', 'workers', seq);
    expect(await row(runId, 't1')).toBeUndefined();
    expect(fake.requests.length).toBe(before);
  });
});
