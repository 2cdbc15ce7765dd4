import 'reflect-metadata';
import { create } from '@bufbuild/protobuf';
import { type StageCommand, StageCommandSchema } from '@heady/contracts';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { context, trace } from '@opentelemetry/api';
import { headers } from '@nats-io/transport-node';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTracing } from '@heady/telemetry';
import {
  type BusConnection,
  type BusPublisher,
  type JetStreamContext,
  PermanentError,
  RemoteError,
  ensureTopology,
  JetStreamClient,
  JetStreamRecord,
  type JetStreamServer,
  STREAMS,
  KV_BUCKETS,
  Header,
} from '../src/index.js';
import {
  busConfig,
  consumer,
  dlqMessages,
  eventually,
  publisherFor,
  startMicroservice,
} from './harness.js';

const seen: { subject: string; cmd: StageCommand; delivery: number; traceId?: string }[] = [];
const attempts = new Map<string, number>();
const attemptTimes = new Map<string, number[]>();

@Controller()
class Handlers {
  @EventPattern('pipeline.stage.ok')
  ok(@Payload() cmd: StageCommand, @Ctx() ctx: JetStreamContext): void {
    seen.push({
      subject: ctx.subject,
      cmd,
      delivery: ctx.deliveryCount,
      traceId: trace.getActiveSpan()?.spanContext().traceId,
    });
  }

  @EventPattern('pipeline.stage.flaky')
  flaky(@Payload() cmd: StageCommand): void {
    const n = (attempts.get(cmd.runId) ?? 0) + 1;
    attempts.set(cmd.runId, n);
    attemptTimes.set(cmd.runId, [...(attemptTimes.get(cmd.runId) ?? []), Date.now()]);
    if (n < 3) throw new Error(`transient ${n}`);
  }

  @EventPattern('pipeline.stage.poison')
  poison(@Payload() cmd: StageCommand): void {
    attempts.set(cmd.runId, (attempts.get(cmd.runId) ?? 0) + 1);
    throw new PermanentError('input can never be processed');
  }

  @EventPattern('pipeline.stage.always')
  always(@Payload() cmd: StageCommand): void {
    attempts.set(cmd.runId, (attempts.get(cmd.runId) ?? 0) + 1);
    throw new Error('still broken');
  }

  @EventPattern('pipeline.stage.garbage')
  garbage(): void {
    attempts.set('garbage', (attempts.get('garbage') ?? 0) + 1);
  }

  @EventPattern('pipeline.stage.hang')
  async hang(@Payload() cmd: StageCommand, @Ctx() ctx: JetStreamContext): Promise<void> {
    attempts.set(cmd.runId, (attempts.get(cmd.runId) ?? 0) + 1);
    // never settles in time: JetStream redelivers after ack_wait until max_deliver
    await new Promise((r) => setTimeout(r, 2_500));
    if (ctx.deliveryCount < 0) ctx.ack();
  }

  @MessagePattern('test.echo')
  echo(@Payload() body: { n: number }): { doubled: number } {
    if (body.n < 0)
      throw Object.assign(new Error('negative'), {
        code: 'VALIDATION_FAILED',
        details: { n: body.n },
      });
    return { doubled: body.n * 2 };
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

const cmd = (runId: string, stage: string) => ({
  schema: StageCommandSchema,
  message: create(StageCommandSchema, { runId, stage }),
});

describe('JetStreamServer', () => {
  let nats: TestNatsServer;
  let app: INestMicroservice;
  let server: JetStreamServer;
  let bus: BusConnection;
  let pub: BusPublisher;

  beforeAll(async () => {
    initTracing({
      service: 'bus-test',
      instanceId: 'bus-test',
      telemetry: { otlpEndpoint: undefined, sampleRatio: 1 },
    });
    nats = await startNatsServer();
    ({ app, server } = await startMicroservice(TestModule, nats.url, [
      consumer('t-ok', 'pipeline.stage.ok'),
      consumer('t-flaky', 'pipeline.stage.flaky', { maxDeliver: 5, backoffMs: [300] }),
      consumer('t-garbage', 'pipeline.stage.garbage'),
      consumer('t-poison', 'pipeline.stage.poison'),
      consumer('t-always', 'pipeline.stage.always', { maxDeliver: 3 }),
      consumer('t-hang', 'pipeline.stage.hang', { ackWaitMs: 1000, maxDeliver: 2 }),
    ]));
    ({ bus, pub } = await publisherFor(nats.url));
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await bus?.nc.close();
    await nats?.stop();
  });

  it('hands an @EventPattern handler the decoded protobuf command and acks it', async () => {
    await pub.publish('pipeline.stage.ok', cmd('run-ok', 'ok'), { msgId: 'run-ok:ok:0' });
    const got = await eventually(() => seen.find((s) => s.cmd.runId === 'run-ok'));
    expect(got.cmd.stage).toBe('ok');
    expect(got.delivery).toBe(1);
    await eventually(
      async () => (await bus.jsm.consumers.info('PIPELINE', 't-ok')).num_ack_pending === 0,
    );
  });

  it('drops a second publish with the same msg id', async () => {
    const a = await pub.publish('pipeline.stage.ok', cmd('run-dup', 'ok'), {
      msgId: 'run-dup:ok:0',
    });
    const b = await pub.publish('pipeline.stage.ok', cmd('run-dup', 'ok'), {
      msgId: 'run-dup:ok:0',
    });
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);
    await eventually(() => seen.find((s) => s.cmd.runId === 'run-dup'));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((s) => s.cmd.runId === 'run-dup')).toHaveLength(1);
  });

  it('refuses to publish without a msg id', async () => {
    await expect(pub.publish('pipeline.stage.ok', cmd('x', 'ok'), { msgId: '' })).rejects.toThrow(
      /Nats-Msg-Id is required/,
    );
  });

  it('retries a throwing handler with delay and it succeeds on the third attempt', async () => {
    await pub.publish('pipeline.stage.flaky', cmd('run-flaky', 'flaky'), {
      msgId: 'run-flaky:flaky:0',
    });
    await eventually(() => attempts.get('run-flaky') === 3);
    const [t1 = 0, t2 = 0, t3 = 0] = attemptTimes.get('run-flaky') ?? [];
    expect(t2 - t1).toBeGreaterThanOrEqual(250); // nak(300), not an immediate redelivery
    expect(t3 - t2).toBeGreaterThanOrEqual(250);
    await eventually(
      async () => (await bus.jsm.consumers.info('PIPELINE', 't-flaky')).num_ack_pending === 0,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts.get('run-flaky')).toBe(3);
    expect(
      (await dlqMessages(bus)).some((m) => m.headers?.get(Header.DlqConsumer) === 't-flaky'),
    ).toBe(false);
  });

  it('copies a PermanentError message to DLQ with its reason and never calls the handler again', async () => {
    await pub.publish('pipeline.stage.poison', cmd('run-poison', 'poison'), {
      msgId: 'run-poison:poison:0',
    });
    const dlq = await eventually(async () =>
      (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqConsumer) === 't-poison'),
    );
    expect(dlq.subject).toBe('dlq.PIPELINE.t-poison');
    expect(dlq.headers?.get(Header.DlqReason)).toBe('input can never be processed');
    expect(dlq.headers?.get(Header.DlqSubject)).toBe('pipeline.stage.poison');
    expect(dlq.headers?.get(Header.DlqOriginalMsgId)).toBe('run-poison:poison:0');
    await new Promise((r) => setTimeout(r, 500));
    expect(attempts.get('run-poison')).toBe(1);
  });

  it('copies an undecodable message to DLQ without calling the handler', async () => {
    const h = headers();
    h.set(Header.ContentType, 'application/protobuf; proto=heady.v1.StageCommand');
    await bus.js.publish('pipeline.stage.garbage', new Uint8Array([0xff, 0xff, 0xff]), {
      msgID: 'garbage:1',
      headers: h,
    });
    const dlq = await eventually(async () =>
      (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqConsumer) === 't-garbage'),
    );
    expect(dlq.headers?.get(Header.DlqReason)).toMatch(/cannot decode/);
    expect([...dlq.data]).toEqual([0xff, 0xff, 0xff]);
    expect(attempts.get('garbage')).toBeUndefined();
  });

  it('copies a message to DLQ when its deliveries are exhausted', async () => {
    await pub.publish('pipeline.stage.always', cmd('run-always', 'always'), {
      msgId: 'run-always:always:0',
    });
    const dlq = await eventually(async () =>
      (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqConsumer) === 't-always'),
    );
    expect(dlq.headers?.get(Header.DlqReason)).toMatch(
      /max deliveries \(3\) exhausted: still broken/,
    );
    expect(dlq.headers?.get(Header.DlqDeliveries)).toBe('3');
    expect(attempts.get('run-always')).toBe(3);
  });

  it('captures a message whose ack timeouts exhaust its deliveries through the max-deliveries advisory', async () => {
    await pub.publish('pipeline.stage.hang', cmd('run-hang', 'hang'), { msgId: 'run-hang:hang:0' });
    const dlq = await eventually(
      async () =>
        (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqConsumer) === 't-hang'),
      15_000,
    );
    expect(dlq.headers?.get(Header.DlqReason)).toMatch(
      /max deliveries \(2\) exceeded without an ack/,
    );
    const decoded = dlq.data.length;
    expect(decoded).toBeGreaterThan(0);
  });

  it('answers a request with the handler result, and a handler error as a RemoteError with its code', async () => {
    await expect(
      pub.request('test.echo', { json: { n: 21 } }, { timeoutMs: 2000 }),
    ).resolves.toEqual({ doubled: 42 });
    const err = await pub
      .request('test.echo', { json: { n: -1 } }, { timeoutMs: 2000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'negative',
      details: { n: -1 },
    });
  });

  it('reports no responders as an UNAVAILABLE RemoteError', async () => {
    const err = await pub
      .request('test.nobody', { json: {} }, { timeoutMs: 500 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it("runs the handler in a span of the publisher's trace", async () => {
    const span = trace.getTracer('test').startSpan('publisher');
    await context.with(trace.setSpan(context.active(), span), () =>
      pub.publish('pipeline.stage.ok', cmd('run-trace', 'ok'), { msgId: 'run-trace:ok:0' }),
    );
    span.end();
    const got = await eventually(() => seen.find((s) => s.cmd.runId === 'run-trace'));
    expect(got.traceId).toBe(span.spanContext().traceId);
  });

  it('publishes with JetStreamClient.emit only when given a JetStreamRecord, and answers send()', async () => {
    const client = new JetStreamClient(busConfig(nats.url, 'client'));
    try {
      await expect(lastValueFrom(client.emit('pipeline.stage.ok', { runId: 'x' }))).rejects.toThrow(
        /msg id is required/,
      );
      const ack = await lastValueFrom(
        client.emit(
          'pipeline.stage.ok',
          new JetStreamRecord(cmd('run-client', 'ok'), { msgId: 'run-client:ok:0' }),
        ),
      );
      expect(ack).toMatchObject({ stream: 'PIPELINE', duplicate: false });
      await eventually(() => seen.find((s) => s.cmd.runId === 'run-client'));
      await expect(lastValueFrom(client.send('test.echo', { n: 2 }))).resolves.toEqual({
        doubled: 4,
      });
    } finally {
      await client.close();
    }
  });

  it('keeps consuming after the nats-server restarts', async () => {
    expect(server.isReady()).toBe(true);
    await nats.restart(300);
    await eventually(async () => {
      try {
        await pub.publish('pipeline.stage.ok', cmd('run-after-restart', 'ok'), {
          msgId: 'run-after-restart:ok:0',
        });
        return true;
      } catch {
        return false;
      }
    }, 15_000);
    await eventually(() => seen.find((s) => s.cmd.runId === 'run-after-restart'), 20_000);
    await eventually(() => server.isReady());
  });

  it('is not ready once closed', async () => {
    await app.close();
    expect(server.isReady()).toBe(false);
  });
});

describe('ensureTopology', () => {
  let nats: TestNatsServer;
  let conns: BusConnection[] = [];
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of conns) await c.nc.close();
    await nats.stop();
  });

  it('creates every stream and bucket, and is idempotent when three processes run it at once', async () => {
    const { connectBus } = await import('../src/index.js');
    conns = await Promise.all([1, 2, 3].map(() => connectBus(busConfig(nats.url))));
    const consumers = [consumer('c1', 'pipeline.stage.plan')];
    await Promise.all(
      conns.map((c) => ensureTopology(c.nc, { consumers, config: busConfig(nats.url) })),
    );
    await ensureTopology(conns[0]!.nc, { consumers, config: busConfig(nats.url) });
    const names: string[] = [];
    for await (const s of conns[0]!.jsm.streams.list()) names.push(s.config.name);
    for (const s of STREAMS) expect(names).toContain(s.name);
    for (const b of KV_BUCKETS) expect(names).toContain(`KV_${b}`);
    const ci = await conns[0]!.jsm.consumers.info('PIPELINE', 'c1');
    expect(ci.config.max_deliver).toBe(3);
  });

  it('updates a stream whose duplicate window changed', async () => {
    const c = conns[0]!;
    const cfg = busConfig(nats.url);
    cfg.nats.duplicateWindowSeconds = 30;
    await ensureTopology(c.nc, { config: cfg, streams: STREAMS.filter((s) => s.name === 'WORK') });
    const info = await c.jsm.streams.info('WORK');
    expect(info.config.duplicate_window).toBe(30 * 1e9);
    expect(info.config.storage).toBe('file');
    expect(info.config.retention).toBe('limits');
  });

  it('updates a consumer whose settings changed', async () => {
    const c = conns[0]!;
    await ensureTopology(c.nc, {
      jsm: c.jsm,
      consumers: [consumer('c1', 'pipeline.stage.plan', { maxDeliver: 9 })],
      config: busConfig(nats.url),
    });
    expect((await c.jsm.consumers.info('PIPELINE', 'c1')).config.max_deliver).toBe(9);
  });
});
