import 'reflect-metadata';
import { create } from '@bufbuild/protobuf';
import { type StageCommand, StageCommandSchema, type AuditEvent } from '@heady/contracts';
import {
  type Certificate,
  MessageSigner,
  MessageVerifier,
  compositeKeygen,
  issueCertificate,
  keyId,
  newEpoch,
  revoke,
  SigHeader,
  KemKeyStore,
  kemKeygen,
  sealPayload,
  sealedKeyRef,
} from '@heady/pqc';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { NestFactory as CoreFactory } from '@nestjs/core';
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  Header,
  JetStreamServer,
  KvKeyRegistry,
  PayloadSealing,
  ERROR_CONTENT_TYPE,
  connectBus,
  decode,
} from '../src/index.js';
import { replayMessage } from '../src/replay.js';
import { busConfig, consumer, dlqMessages, eventually } from './harness.js';

const handled: string[] = [];
const HOUR = 3_600_000;

@Controller()
class Handlers {
  @EventPattern('pipeline.stage.*')
  handle(@Payload() cmd: StageCommand): void {
    handled.push(cmd.runId);
  }

  @MessagePattern('pipeline.echo')
  echo(@Payload() body: unknown): unknown {
    return { echoed: body };
  }

  @MessagePattern('pipeline.rpc.slow')
  async slow(): Promise<unknown> {
    await new Promise((r) => setTimeout(r, 100));
    return { slow: true };
  }
}
@Module({ controllers: [Handlers] })
class M {}

const cmd = (runId: string) => ({
  schema: StageCommandSchema,
  message: create(StageCommandSchema, { runId, stage: 'plan' }),
});

describe('signed bus', () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let app: INestMicroservice;
  let pub: BusPublisher;
  let registry: KvKeyRegistry;
  const root = compositeKeygen();
  const rootKid = keyId(root.publicKey);
  let identity: { cert: Certificate; key: ReturnType<typeof compositeKeygen> };
  let epoch: ReturnType<typeof newEpoch>;
  let kemStore: KemKeyStore;
  let sealing: PayloadSealing;
  /** Another valid epoch key of the same identity. */
  let signedByOther: Certificate;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus(busConfig(nats.url, 'signer'));
    registry = await KvKeyRegistry.open(bus.nc, root.publicKey);
    const idKey = compositeKeygen();
    identity = {
      key: idKey,
      cert: issueCertificate(
        { kid: rootKid, secretKey: root.secretKey },
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
    signedByOther = newEpoch(identity, 'pipeline-2', 3_600_000).cert;
    await registry.putEpoch(signedByOther);
    kemStore = new KemKeyStore(mkdtempSync(join(tmpdir(), 'heady-kem-')), 'pipeline', {
      rotationMs: HOUR,
      retentionMs: HOUR,
    });
    await registry.putKem(kemStore.certify(identity, kemStore.epochAt(Date.now()), 60_000));
    sealing = new PayloadSealing(registry, { rotationMs: HOUR, store: kemStore });
    pub = new BusPublisher(bus, undefined, new MessageSigner(epoch), sealing);
    const verifier = new MessageVerifier(registry, { rootPublicKey: root.publicKey });
    const server = new JetStreamServer({
      config: busConfig(nats.url),
      consumers: [
        consumer('plan', 'pipeline.stage.plan'),
        consumer('exec', 'pipeline.stage.execute'),
      ],
      verifier,
      publisher: pub,
      sealing,
      rpcConcurrency: 2,
    });
    app = await CoreFactory.createMicroservice(M, { strategy: server, logger: false });
    app.useGlobalFilters(new BusExceptionFilter());
    await app.listen();
  });

  afterAll(async () => {
    await app?.close();
    await bus?.nc.close();
    await nats?.stop();
  });

  /** Publishes a genuine signed message's bytes and headers after `mutate` changes them, bypassing the signer. */
  async function replayTampered(
    runId: string,
    mutate: (
      h: Record<string, string>,
      data: Uint8Array,
    ) => { subject?: string; data?: Uint8Array; msgId?: string },
  ): Promise<void> {
    const signer = new MessageSigner(epoch);
    const { toBinary } = await import('@bufbuild/protobuf');
    const data = toBinary(StageCommandSchema, create(StageCommandSchema, { runId, stage: 'plan' }));
    const contentType = 'application/protobuf; proto=heady.v1.StageCommand';
    const msgId = `${runId}:plan:0`;
    const sig = await signer.sign({
      subject: 'pipeline.stage.plan',
      msgId,
      contentType,
      payload: data,
    });
    const h: Record<string, string> = { ...sig, [Header.ContentType]: contentType };
    const out = mutate(h, data);
    const nh = headers();
    for (const [k, v] of Object.entries(h)) nh.set(k, v);
    await bus.js.publish(out.subject ?? 'pipeline.stage.plan', out.data ?? data, {
      msgID: out.msgId ?? msgId,
      headers: nh,
    });
  }

  async function rejectionOf(runId: string): Promise<{ reason: string; audit: AuditEvent }> {
    const dl = await eventually(async () =>
      (await dlqMessages(bus)).find((m) =>
        m.headers?.get(Header.DlqOriginalMsgId)?.startsWith(runId),
      ),
    );
    const original = dl.headers?.get(Header.DlqOriginalMsgId);
    const audit = await eventually(async () => {
      const n = (await bus.jsm.streams.info('AUDIT')).state.messages;
      if (!n) return undefined;
      const msgs = await (
        await bus.js.consumers.get('AUDIT')
      ).fetch({ max_messages: n, expires: 1000 });
      let found: AuditEvent | undefined;
      for await (const m of msgs) {
        const e = decode(m.headers?.get(Header.ContentType), m.data) as AuditEvent;
        if (e.details?.msgId === original) found = e;
      }
      return found;
    });
    return { reason: dl.headers?.get(Header.DlqReason) ?? '', audit };
  }

  it('hands a genuine signed message to its handler', async () => {
    await pub.publish('pipeline.stage.plan', cmd('genuine'), { msgId: 'genuine:plan:0' });
    await eventually(() => handled.includes('genuine'));
  });

  it.each([
    [
      'a flipped payload byte',
      'flip-payload',
      (_h: Record<string, string>, d: Uint8Array) => ({
        data: Uint8Array.from(d, (b, i) => (i === 3 ? b ^ 1 : b)),
      }),
      'bad-signature',
    ],
    [
      'a changed issued-at',
      'flip-issued',
      (h: Record<string, string>) => (
        (h[SigHeader.IssuedAt] = String(Number(h[SigHeader.IssuedAt]) - 1)),
        {}
      ),
      'bad-signature',
    ],
    [
      'a classification downgrade',
      'downgrade',
      (h: Record<string, string>) => ((h[SigHeader.Classification] = 'PUBLIC'), {}),
      'bad-signature',
    ],
    [
      'a flipped inclusion proof',
      'flip-proof',
      (h: Record<string, string>) => ((h[SigHeader.Proof] = '0.2.' + 'A'.repeat(86)), {}),
      'bad-signature',
    ],
    [
      'a flipped signature byte',
      'flip-sig',
      (h: Record<string, string>) => (
        (h[SigHeader.Signature] = (h[SigHeader.Signature] ?? '').replace(/^./, (c) =>
          c === 'A' ? 'B' : 'A',
        )),
        {}
      ),
      'bad-signature',
    ],
    [
      'a re-publish onto another subject',
      'moved',
      () => ({ subject: 'pipeline.stage.execute' }),
      'subject-not-permitted',
    ],
    ['a changed message id', 'moved-id', () => ({ msgId: 'moved-id:plan:9' }), 'bad-signature'],
    [
      'a changed content type',
      'flip-ctype',
      (h: Record<string, string>) => ((h[Header.ContentType] = 'application/json'), {}),
      'bad-signature',
    ],
    [
      'a key id swapped for another trusted key',
      'swap-kid',
      (h: Record<string, string>) => ((h[SigHeader.Kid] = signedByOther.kid), {}),
      'bad-signature',
    ],
    [
      'a key id nobody issued',
      'unknown-kid',
      (h: Record<string, string>) => ((h[SigHeader.Kid] = 'f'.repeat(32)), {}),
      'unknown-key',
    ],
    [
      'no signature at all',
      'unsigned',
      (h: Record<string, string>) => (delete h[SigHeader.Signature], {}),
      'unsigned',
    ],
  ])(
    'refuses %s: DLQ with the reason, an audit event, and no handler',
    async (_name, runId, mutate, reason) => {
      await replayTampered(runId, mutate);
      const r = await rejectionOf(runId);
      expect(r.reason).toMatch(new RegExp(`^rejected \\(${reason}\\)`));
      expect(r.audit).toMatchObject({ action: 'MESSAGE_REJECTED', status: reason });
      expect(handled).not.toContain(runId);
    },
  );

  it('loses and rejects nothing across key rotations with messages in flight', async () => {
    const signer = new MessageSigner(newEpoch(identity, 'rotating', 3_600_000));
    await registry.putEpoch(signer.certificate);
    const rotating = new BusPublisher(bus, undefined, signer);
    const rejectedBefore = (await dlqMessages(bus)).length;
    const kids = new Set<string>([signer.certificate.kid]);
    const sent: string[] = [];
    let rotated = false;
    const publishing = (async () => {
      for (let i = 0; !rotated || i < 50; i++) {
        const id = `rot-${i}`;
        // 10 publishes in flight at a time, so rotations land between queued and signed messages
        await Promise.all(
          Array.from({ length: 10 }, (_, j) =>
            rotating.publish('pipeline.stage.plan', cmd(`${id}-${j}`), {
              msgId: `${id}-${j}:plan:0`,
            }),
          ),
        );
        sent.push(...Array.from({ length: 10 }, (_, j) => `${id}-${j}`));
      }
    })();
    for (let r = 0; r < 5; r++) {
      await new Promise((res) => setTimeout(res, 150));
      const next = newEpoch(identity, 'rotating', 3_600_000);
      await registry.putEpoch(next.cert); // certificate first, as the runtime does
      signer.rotate(next);
      kids.add(next.cert.kid);
    }
    rotated = true;
    await publishing;
    expect(kids.size).toBe(6);
    expect(sent.length).toBeGreaterThanOrEqual(500);
    await eventually(() => {
      const seen = new Set(handled);
      return sent.every((id) => seen.has(id));
    }, 30_000);
    expect((await dlqMessages(bus)).length).toBe(rejectedBefore);
  });

  describe('RESTRICTED payloads', () => {
    it('are sealed on the wire and opened for the handler', async () => {
      const ack = await pub.publish('pipeline.stage.plan', cmd('sealed-run'), {
        msgId: 'sealed-run:plan:0',
        classification: 'RESTRICTED',
      });
      await eventually(() => handled.includes('sealed-run'));
      const stored = await bus.jsm.streams.getMessage(ack.stream, { seq: ack.seq });
      expect(sealedKeyRef(stored!.data)).toBe(`pipeline.${kemStore.epochAt(Date.now())}`);
      expect(Buffer.from(stored!.data).includes(Buffer.from('sealed-run'))).toBe(false);
    });

    /** Signs `data` as RESTRICTED with the service key and publishes it as is (no sealing by the publisher). */
    async function publishRestrictedRaw(runId: string, data: Uint8Array): Promise<void> {
      const contentType = 'application/protobuf; proto=heady.v1.StageCommand';
      const msgId = `${runId}:plan:0`;
      const sig = await new MessageSigner(epoch).sign({
        subject: 'pipeline.stage.plan',
        msgId,
        contentType,
        payload: data,
        classification: 'RESTRICTED',
      });
      const h = headers();
      for (const [k, v] of Object.entries({ ...sig, [Header.ContentType]: contentType }))
        h.set(k, v);
      await bus.js.publish('pipeline.stage.plan', data, { msgID: msgId, headers: h });
    }
    const plainCmd = async (runId: string) =>
      (await import('@bufbuild/protobuf')).toBinary(
        StageCommandSchema,
        create(StageCommandSchema, { runId, stage: 'plan' }),
      );

    it('refuses a RESTRICTED message whose payload is not sealed', async () => {
      await publishRestrictedRaw('plain-restricted', await plainCmd('plain-restricted'));
      const r = await rejectionOf('plain-restricted');
      expect(r.reason).toMatch(/^rejected \(not-sealed\)/);
      expect(r.audit).toMatchObject({ action: 'MESSAGE_REJECTED', status: 'not-sealed' });
      expect(handled).not.toContain('plain-restricted');
    });

    it('refuses a payload sealed to an epoch whose secret is gone', async () => {
      const gone = kemKeygen(); // an old epoch's key pair whose secret was deleted
      const envelope = sealPayload(
        await plainCmd('old-epoch'),
        { keyRef: 'pipeline.1', publicKey: gone.publicKey },
        'pipeline.stage.plan',
        'old-epoch:plan:0',
      );
      await publishRestrictedRaw('old-epoch', envelope);
      expect((await rejectionOf('old-epoch')).reason).toMatch(/^rejected \(undecryptable\)/);
      expect(handled).not.toContain('old-epoch');
    });

    it('cannot be published without sealing', async () => {
      const bare = new BusPublisher(bus, undefined, new MessageSigner(epoch));
      await expect(
        bare.publish('pipeline.stage.plan', cmd('nosealer'), {
          msgId: 'nosealer:plan:0',
          classification: 'RESTRICTED',
        }),
      ).rejects.toThrow(/must be sealed/);
    });
  });

  describe('operator replay', () => {
    let opPub: BusPublisher;
    const verifierOf = () => new MessageVerifier(registry, { rootPublicKey: root.publicKey });
    beforeAll(async () => {
      const opKey = compositeKeygen();
      const operator = {
        key: opKey,
        cert: issueCertificate(
          { kid: rootKid, secretKey: root.secretKey },
          {
            kind: 'operator',
            service: 'ops-alice',
            publicKey: opKey.publicKey,
            subjects: ['>'],
            notBefore: 0,
            notAfter: Date.now() + 3_600_000,
          },
        ),
      };
      const opEpoch = newEpoch(operator, 'cli', 3_600_000);
      await registry.putIdentity(operator.cert);
      await registry.putEpoch(opEpoch.cert);
      opPub = new BusPublisher(bus, undefined, new MessageSigner(opEpoch));
    });

    it('hands a stored message re-signed by an operator to the handler again', async () => {
      const ack = await pub.publish('pipeline.stage.plan', cmd('replayed'), {
        msgId: 'replayed:plan:0',
      });
      await eventually(() => handled.includes('replayed'));
      const r = await replayMessage(bus.jsm, opPub, verifierOf(), ack.stream, ack.seq);
      expect(r.replayOf).toBe(
        `${ack.stream}/${ack.seq}/${epoch.cert.kid}/pipeline.stage.plan/${Buffer.from('replayed:plan:0').toString('base64url')}`,
      );
      await eventually(() => handled.filter((x) => x === 'replayed').length === 2);
    });

    it('refuses a replay signed by a service key, and an operator key signing an original', async () => {
      const ack = await pub.publish('pipeline.stage.plan', cmd('svc-replay'), {
        msgId: 'svc-replay:plan:0',
      });
      await eventually(() => handled.includes('svc-replay'));
      await replayMessage(bus.jsm, pub, verifierOf(), ack.stream, ack.seq);
      const r = await rejectionOf('svc-replay:plan:0~replay');
      expect(r.reason).toMatch(/^rejected \(replay-not-authorised\)/);
      expect(handled.filter((x) => x === 'svc-replay')).toHaveLength(1);

      await opPub.publish('pipeline.stage.plan', cmd('op-original'), {
        msgId: 'op-original:plan:0',
      });
      expect((await rejectionOf('op-original')).reason).toMatch(
        /^rejected \(replay-not-authorised\)/,
      );
      expect(handled).not.toContain('op-original');
    });
  });

  describe('request/reply', () => {
    let caller: BusPublisher;
    let gatewaySigner: MessageSigner;
    beforeAll(async () => {
      const key = compositeKeygen();
      const gateway = {
        key,
        cert: issueCertificate(
          { kid: rootKid, secretKey: root.secretKey },
          {
            kind: 'identity',
            service: 'gateway',
            publicKey: key.publicKey,
            subjects: ['pipeline.echo', 'pipeline.rpc.>'],
            notBefore: 0,
            notAfter: Date.now() + HOUR,
          },
        ),
      };
      const gatewayEpoch = newEpoch(gateway, 'gateway-1', HOUR);
      await registry.putIdentity(gateway.cert);
      await registry.putEpoch(gatewayEpoch.cert);
      gatewaySigner = new MessageSigner(gatewayEpoch);
      caller = new BusPublisher(
        bus,
        undefined,
        gatewaySigner,
        undefined,
        new MessageVerifier(registry, { rootPublicKey: root.publicKey }),
      );
    });

    /** A responder outside the framework answering `subject` with the headers `reply` makes. */
    function respondWith(
      subject: string,
      reply: (
        inbox: string,
        requestMsgId: string,
        data: Uint8Array,
      ) => Promise<ReturnType<typeof headers> | undefined>,
    ): { unsubscribe(): void } {
      const sub = bus.nc.subscribe(subject);
      void (async () => {
        for await (const m of sub) {
          const data = new TextEncoder().encode('{"echoed":"forged"}');
          const h = await reply(m.reply ?? '', m.headers?.get(Header.MsgId) ?? '', data);
          m.respond(data, h ? { headers: h } : undefined);
        }
      })();
      return sub;
    }

    it('signs a reply and binds it to its request; the caller verifies it', async () => {
      await expect(
        caller.request('pipeline.echo', { json: { n: 1 } }, { timeoutMs: 5_000 }),
      ).resolves.toEqual({ echoed: { n: 1 } });
    });

    it.each([
      ['an unsigned reply', 'pipeline.rpc.unsigned', 'unsigned', () => Promise.resolve(undefined)],
      [
        'a reply signed by a service that does not answer this subject',
        'pipeline.rpc.imposter',
        'subject-not-permitted',
        async (inbox: string, id: string, d: Uint8Array) =>
          new BusPublisher(bus, undefined, gatewaySigner).replyHeaders(
            inbox,
            id,
            'application/json',
            d,
          ),
      ],
      [
        'a genuine reply to another request',
        'pipeline.rpc.misbound',
        'malformed',
        async (inbox: string, _id: string, d: Uint8Array) =>
          pub.replyHeaders(inbox, 'req:some-other-request', 'application/json', d),
      ],
    ] as const)('refuses %s', async (_what, subject, reason, reply) => {
      const sub = respondWith(subject, reply);
      try {
        await expect(
          caller.request(subject, { json: { n: 2 } }, { timeoutMs: 5_000 }),
        ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason } });
      } finally {
        sub.unsubscribe();
      }
    });
    /** Answers `subject` once with `data` under genuine signed reply headers, then lets `tamper` change them. */
    function respondSigned(
      subject: string,
      contentType: string,
      body: string,
      tamper: (h: ReturnType<typeof headers>) => void,
      extra: Record<string, string> = {},
    ): { unsubscribe(): void } {
      const sub = bus.nc.subscribe(subject);
      void (async () => {
        for await (const m of sub) {
          const data = new TextEncoder().encode(body);
          const h = await pub.replyHeaders(
            m.reply ?? '',
            m.headers?.get(Header.MsgId) ?? '',
            contentType,
            data,
            extra,
          );
          tamper(h);
          m.respond(data, { headers: h });
        }
      })();
      return sub;
    }

    const errorBody = '{"code":"RUN_NOT_FOUND","message":"no such run","details":{}}';

    it.each([
      [
        'a Heady-Error header added to a signed success',
        'application/json',
        '{"echoed":"ok"}',
        {},
        (h: ReturnType<typeof headers>) => h.set(Header.Error, errorBody),
      ],
      [
        'a changed Heady-Error header on a signed error',
        ERROR_CONTENT_TYPE,
        errorBody,
        { [Header.Error]: errorBody },
        (h: ReturnType<typeof headers>) =>
          h.set(Header.Error, errorBody.replace('RUN_NOT_FOUND', 'FORBIDDEN')),
      ],
    ])('refuses a reply with %s', async (_what, contentType, body, extra, tamper) => {
      const sub = respondSigned('pipeline.rpc.tampered', contentType, body, tamper, extra);
      try {
        await expect(
          caller.request('pipeline.rpc.tampered', { json: {} }, { timeoutMs: 5_000 }),
        ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'bad-signature' } });
      } finally {
        sub.unsubscribe();
      }
    });

    it('reads a signed error from its body when its Heady-Error header was stripped', async () => {
      const sub = respondSigned('pipeline.rpc.stripped', ERROR_CONTENT_TYPE, errorBody, (h) =>
        h.delete(Header.Error),
      );
      try {
        await expect(
          caller.request('pipeline.rpc.stripped', { json: {} }, { timeoutMs: 5_000 }),
        ).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
      } finally {
        sub.unsubscribe();
      }
    });

    it('answers a signed request replayed with its message id once only', async () => {
      const spy = bus.nc.subscribe('pipeline.echo', { max: 1 });
      const captured = (async () => {
        for await (const m of spy) return { data: m.data, headers: m.headers };
        throw new Error('no request seen');
      })();
      await caller.request('pipeline.echo', { json: { n: 3 } }, { timeoutMs: 5_000 });
      const req = await captured;
      const again = await bus.nc.request('pipeline.echo', req.data, {
        timeout: 5_000,
        ...(req.headers ? { headers: req.headers } : {}),
      });
      expect(JSON.parse(again.headers?.get(Header.Error) ?? '{}')).toMatchObject({
        code: 'UNAUTHENTICATED',
        details: { reason: 'duplicate' },
      });
    });

    it('runs requests under its concurrency cap, queues 16 × as many, and refuses the rest as overloaded', async () => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, () =>
          caller.request('pipeline.rpc.slow', { json: {} }, { timeoutMs: 10_000 }),
        ),
      );
      const ok = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter(
        (o) =>
          o.status === 'rejected' && (o.reason as { code?: string }).code === 'RESOURCE_EXHAUSTED',
      );
      // two run, 32 wait, six are refused at once
      expect(ok).toHaveLength(34);
      expect(refused).toHaveLength(6);
    });
  });

  it('refuses messages of a revoked key', async () => {
    await registry.putRevocation(
      revoke({ kid: rootKid, secretKey: root.secretKey }, epoch.cert.kid, 'compromised'),
    );
    await new Promise((r) => setTimeout(r, 5_100)); // the revocation cache holds 5 s
    await pub.publish('pipeline.stage.plan', cmd('after-revoke'), { msgId: 'after-revoke:plan:0' });
    const r = await rejectionOf('after-revoke');
    expect(r.reason).toMatch(/^rejected \(revoked-key\)/);
    expect(handled).not.toContain('after-revoke');
  });
});
