import 'reflect-metadata';
import { create, toBinary } from '@bufbuild/protobuf';
import { type AuditEvent, type StageCommand, StageCommandSchema } from '@heady/contracts';
import {
  MessageSigner,
  MessageVerifier,
  SigHeader,
  compositeKeygen,
  issueCertificate,
  keyId,
  newEpoch,
} from '@heady/pqc';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  DEDUP_BUCKET,
  DedupStore,
  Header,
  JetStreamServer,
  KvKeyRegistry,
  connectBus,
  decode,
} from '../src/index.js';
import { busConfig, consumer, dlqMessages, eventually } from './harness.js';

const handled: string[] = [];

@Controller()
class Handlers {
  @EventPattern('pipeline.stage.*')
  handle(@Payload() cmd: StageCommand): void {
    handled.push(cmd.runId);
  }
  @EventPattern('audit.>')
  audit(): void {}
}
@Module({ controllers: [Handlers] })
class M {}

const cmd = (runId: string) => ({
  schema: StageCommandSchema,
  message: create(StageCommandSchema, { runId, stage: 'plan' }),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(JetStreamServer.name, () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let app: INestMicroservice;
  let epoch: ReturnType<typeof newEpoch>;
  let pub: BusPublisher;
  const WINDOW_S = 2;
  const consumers = [
    consumer('plan', 'pipeline.stage.plan'),
    consumer('exec', 'pipeline.stage.execute'),
    consumer('audit-w', 'audit.>', { stream: 'AUDIT' }),
  ];

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus(busConfig(nats.url, 'signer'));
    const root = compositeKeygen();
    const registry = await KvKeyRegistry.open(bus.nc, root.publicKey);
    const idKey = compositeKeygen();
    const identity = {
      key: idKey,
      cert: issueCertificate(
        { kid: keyId(root.publicKey), secretKey: root.secretKey },
        {
          kind: 'identity',
          service: 'pipeline',
          publicKey: idKey.publicKey,
          subjects: ['pipeline.stage.plan', 'audit.>'],
          notBefore: 0,
          notAfter: Date.now() + 3_600_000,
        },
      ),
    };
    epoch = newEpoch(identity, 'pipeline-1', 3_600_000);
    await registry.putIdentity(identity.cert);
    await registry.putEpoch(epoch.cert);
    pub = new BusPublisher(bus, undefined, new MessageSigner(epoch));
    const config = busConfig(nats.url);
    config.nats.duplicateWindowSeconds = WINDOW_S;
    const server = new JetStreamServer({
      config,
      consumers,
      verifier: new MessageVerifier(registry, { rootPublicKey: root.publicKey }),
      publisher: pub,
    });
    app = await NestFactory.createMicroservice(M, { strategy: server, logger: false });
    app.useGlobalFilters(new BusExceptionFilter());
    await app.listen();
  });

  afterAll(async () => {
    await app?.close();
    await bus?.nc.close();
    await nats?.stop();
  });

  /** A genuine signed stage command's bytes and headers, changed by `mutate`, published around the signer. */
  async function forge(
    runId: string,
    mutate: (h: Record<string, string>, d: Uint8Array) => { subject?: string; data?: Uint8Array },
  ): Promise<number> {
    const data = toBinary(StageCommandSchema, create(StageCommandSchema, { runId, stage: 'plan' }));
    const contentType = 'application/protobuf; proto=heady.v1.StageCommand';
    const msgId = `${runId}:plan:0`;
    const sig = await new MessageSigner(epoch).sign({
      subject: 'pipeline.stage.plan',
      msgId,
      contentType,
      payload: data,
    });
    const h: Record<string, string> = { ...sig, [Header.ContentType]: contentType };
    const out = mutate(h, data);
    const nh = headers();
    for (const [k, v] of Object.entries(h)) nh.set(k, v);
    const ack = await bus.js.publish(out.subject ?? 'pipeline.stage.plan', out.data ?? data, {
      msgID: msgId,
      headers: nh,
    });
    return ack.seq;
  }

  it('settles a rejected message once: one DLQ copy, terminated, never delivered again', async () => {
    const seqs = [
      await forge('tampered', (_h, d) => ({
        data: Uint8Array.from(d, (b, i) => (i === 3 ? b ^ 1 : b)),
      })),
      await forge('unsigned', (h) => (delete h[SigHeader.Signature], {})),
      await forge('moved', () => ({ subject: 'pipeline.stage.execute' })),
    ];
    await eventually(async () => (await dlqMessages(bus)).length >= 3);
    await sleep(3_500); // three ack waits of the test consumers
    const dlq = await dlqMessages(bus);
    expect(dlq.map((m) => Number(m.headers?.get(Header.DlqSeq))).sort()).toEqual(seqs);
    for (const c of ['plan', 'exec']) {
      const info = await bus.jsm.consumers.info('PIPELINE', c);
      expect(info.num_ack_pending, c).toBe(0);
      expect(info.num_redelivered, c).toBe(0);
    }
    expect(handled).toEqual([]);
  });

  /** The AUDIT stream's MESSAGE_REJECTED events, by the stream sequence they are about. */
  async function auditedSeqs(): Promise<string[]> {
    const n = (await bus.jsm.streams.info('AUDIT')).state.messages;
    const out: string[] = [];
    for (let seq = 1; out.length < n && seq <= n + 100; seq++) {
      const m = await bus.jsm.streams.getMessage('AUDIT', { seq }).catch(() => null);
      if (!m || m.subject !== 'audit.security.rejected' || !m.header.get(SigHeader.Kid)) continue;
      const e = decode(m.header.get(Header.ContentType), m.data) as AuditEvent;
      out.push(`${e.details?.stream as string}:${e.details?.seq as number}`);
    }
    return out;
  }

  it('dead-letters a forged message carrying Nats-Expected-* headers instead of failing its copy forever', async () => {
    const seq = await forge('expects', (h) => {
      h['Nats-Expected-Stream'] = 'PIPELINE';
      delete h[SigHeader.Signature];
      return {};
    });
    const copy = await eventually(async () =>
      (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqSeq) === String(seq)),
    );
    expect(copy.headers?.has('Nats-Expected-Stream')).toBe(false);
    expect(copy.headers?.get(Header.DlqClass)).toBe('rejected:unsigned');
    await sleep(1_500);
    expect((await bus.jsm.consumers.info('PIPELINE', 'plan')).num_ack_pending).toBe(0);
  });

  it('never audits a rejected audit event, and audits every other rejection once', async () => {
    const h = headers();
    h.set(Header.ContentType, 'application/json');
    const forged = await bus.js.publish('audit.security.rejected', new TextEncoder().encode('{}'), {
      msgID: 'audit:rejected:PIPELINE:1',
      headers: h,
    });
    await eventually(async () =>
      (await dlqMessages(bus)).some(
        (m) =>
          m.headers?.get(Header.DlqStream) === 'AUDIT' &&
          m.headers?.get(Header.DlqSeq) === String(forged.seq),
      ),
    );
    await sleep(2 * WINDOW_S * 1000 + 1_500); // two duplicate windows, past the ack waits
    const audited = await auditedSeqs();
    expect(audited.filter((a) => a.startsWith('AUDIT:'))).toEqual([]);
    expect(new Set(audited).size).toBe(audited.length);
    const info = await bus.jsm.consumers.info('AUDIT', 'audit-w');
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe((await bus.jsm.streams.info('AUDIT')).state.last_seq);
    const dlqBefore = (await dlqMessages(bus)).length;
    await sleep(1_500);
    expect((await dlqMessages(bus)).length).toBe(dlqBefore);
  });

  it('handles a genuine msg id stored again after the duplicate window, instead of rejecting it as a duplicate', async () => {
    await pub.publish('pipeline.stage.plan', cmd('again'), { msgId: 'again:plan:0' });
    await eventually(() => handled.includes('again'));
    await sleep(WINDOW_S * 1000 + 500);
    const ack = await pub.publish('pipeline.stage.plan', cmd('again'), { msgId: 'again:plan:0' });
    expect(ack.duplicate).toBe(false);
    await eventually(() => handled.filter((r) => r === 'again').length === 2);
    expect(
      (await dlqMessages(bus)).some((m) => m.headers?.get(Header.DlqSeq) === String(ack.seq)),
    ).toBe(false);
  });

  it('ignores max-deliveries advisories that name another consumer or a message that is not stored', async () => {
    const genuine = await pub.publish('pipeline.stage.plan', cmd('advised'), {
      msgId: 'advised:plan:0',
    });
    await eventually(() => handled.includes('advised'));
    const subject = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.PIPELINE.plan';
    const advise = (a: object) => bus.nc.publish(subject, JSON.stringify(a));
    advise({ stream: 'PIPELINE', consumer: 'evil', stream_seq: genuine.seq, deliveries: 3 });
    advise({ stream: 'DLQ', consumer: 'plan', stream_seq: 1, deliveries: 3 });
    advise({ stream: 'PIPELINE', consumer: 'plan', stream_seq: 999_999, deliveries: 3 });
    await bus.nc.flush();
    await sleep(1_000);
    const dlq = await dlqMessages(bus);
    expect(dlq.some((m) => m.headers?.get(Header.DlqConsumer) === 'evil')).toBe(false);
    expect(dlq.some((m) => m.headers?.get(Header.DlqSeq) === '999999')).toBe(false);
    expect(dlq.some((m) => m.headers?.get(Header.DlqSeq) === String(genuine.seq))).toBe(false);
  });
});

describe(DedupStore.name, () => {
  let nats: TestNatsServer;
  let bus: BusConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus(busConfig(nats.url, 'dedup'));
  });

  afterAll(async () => {
    await bus?.nc.close();
    await nats?.stop();
  });

  it('claims a msg id once per scope, and again once the window has passed', async () => {
    const store = await DedupStore.open(bus.nc, bus.jsm, 1);
    expect(await store.claim('PIPELINE', 'run-1:plan:0', '7')).toEqual({ first: true });
    expect(await store.claim('PIPELINE', 'run-1:plan:0', '9')).toEqual({
      first: false,
      owner: '7',
    });
    expect(await store.claim('WORK', 'run-1:plan:0', '9')).toEqual({ first: true });
    await sleep(1_600);
    expect(await store.claim('PIPELINE', 'run-1:plan:0', '9')).toEqual({ first: true });
  });

  it('follows a changed duplicate window, shorter or longer', async () => {
    await DedupStore.open(bus.nc, bus.jsm, 120);
    await DedupStore.open(bus.nc, bus.jsm, 2);
    expect((await bus.jsm.streams.info(`KV_${DEDUP_BUCKET}`)).config.max_age).toBe(2e9);
    await DedupStore.open(bus.nc, bus.jsm, 60);
    expect((await bus.jsm.streams.info(`KV_${DEDUP_BUCKET}`)).config.max_age).toBe(60e9);
  });
});
