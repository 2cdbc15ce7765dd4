import 'reflect-metadata';
import { create, toBinary } from '@bufbuild/protobuf';
import { type StageCommand, StageCommandSchema } from '@heady/contracts';
import {
  type Certificate,
  KemKeyStore,
  MessageSigner,
  MessageVerifier,
  compositeKeygen,
  issueCertificate,
  keyId,
  newEpoch,
  parseReplayOf,
  revoke,
} from '@heady/pqc';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { Kvm } from '@nats-io/kv';
import { headers } from '@nats-io/transport-node';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, Payload } from '@nestjs/microservices';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BusExceptionFilter,
  BusPublisher,
  type BusConnection,
  Header,
  JetStreamServer,
  KvKeyRegistry,
  PayloadSealing,
  PermanentError,
  REVOCATION_STREAM,
  ReplayRefusedError,
  connectBus,
  copyToDlq,
  replayMessage,
} from '../src/index.js';
import { busConfig, consumer, dlqMessages, eventually } from './harness.js';

const HOUR = 3_600_000;
const handled: string[] = [];
/** Run ids whose first delivery fails permanently (a genuine dead letter). */
const failFirst = new Set<string>();

@Controller()
class Handlers {
  @EventPattern('pipeline.stage.*')
  handle(@Payload() cmd: StageCommand): void {
    if (failFirst.delete(cmd.runId)) throw new PermanentError(`first try of ${cmd.runId} fails`);
    handled.push(cmd.runId);
  }
}
@Module({ controllers: [Handlers] })
class M {}

const cmd = (runId: string) => ({
  schema: StageCommandSchema,
  message: create(StageCommandSchema, { runId, stage: 'plan' }),
});
const count = (runId: string) => handled.filter((x) => x === runId).length;

type Identity = { cert: Certificate; key: ReturnType<typeof compositeKeygen> };

describe(KvKeyRegistry.name, () => {
  let nats: TestNatsServer;
  let bus: BusConnection;
  let app: INestMicroservice;
  let registry: KvKeyRegistry;
  let pub: BusPublisher;
  let opPub: BusPublisher;
  let verifier: MessageVerifier;
  const root = compositeKeygen();
  const rootIssuer = { kid: keyId(root.publicKey), secretKey: root.secretKey };
  let identity: Identity;
  let epoch: ReturnType<typeof newEpoch>;

  const identityOf = (
    service: string,
    kind: 'identity' | 'operator' = 'identity',
    issuer = rootIssuer,
  ): Identity => {
    const key = compositeKeygen();
    return {
      key,
      cert: issueCertificate(issuer, {
        kind,
        service,
        publicKey: key.publicKey,
        subjects: kind === 'operator' ? ['>'] : ['pipeline.stage.*', 'audit.>'],
        notBefore: 0,
        notAfter: Date.now() + HOUR,
      }),
    };
  };
  /** A registry with nothing cached: what a freshly started verifier reads. */
  const fresh = () => KvKeyRegistry.open(bus.nc, root.publicKey);
  const verifyWith = (r: KvKeyRegistry, s: MessageSigner, subject: string, msgId: string) =>
    s
      .sign({ subject, msgId, contentType: 'application/json', payload: new Uint8Array([1]) })
      .then((h) =>
        new MessageVerifier(r, { rootPublicKey: root.publicKey }).verify({
          subject,
          msgId,
          contentType: 'application/json',
          payload: new Uint8Array([1]),
          header: (n) => h[n],
        }),
      );

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus(busConfig(nats.url, 'replayer'));
    registry = await KvKeyRegistry.open(bus.nc, root.publicKey);
    identity = identityOf('pipeline');
    epoch = newEpoch(identity, 'pipeline-1', HOUR);
    await registry.putIdentity(identity.cert);
    await registry.putEpoch(epoch.cert);
    const kemStore = new KemKeyStore(mkdtempSync(join(tmpdir(), 'heady-kem-')), 'pipeline', {
      rotationMs: HOUR,
      retentionMs: HOUR,
    });
    await registry.putKem(kemStore.certify(identity, kemStore.epochAt(Date.now()), 60_000));
    const sealing = new PayloadSealing(registry, { rotationMs: HOUR, store: kemStore });
    pub = new BusPublisher(bus, undefined, new MessageSigner(epoch), sealing);
    const operator = identityOf('ops-bob', 'operator');
    const opEpoch = newEpoch(operator, 'cli', HOUR);
    await registry.putIdentity(operator.cert);
    await registry.putEpoch(opEpoch.cert);
    opPub = new BusPublisher(bus, undefined, new MessageSigner(opEpoch));
    verifier = new MessageVerifier(registry, { rootPublicKey: root.publicKey });
    const server = new JetStreamServer({
      config: busConfig(nats.url),
      consumers: [
        consumer('plan', 'pipeline.stage.plan'),
        consumer('exec', 'pipeline.stage.execute'),
      ],
      verifier: new MessageVerifier(registry, { rootPublicKey: root.publicKey }),
      publisher: pub,
      sealing,
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

  /** The DLQ sequence of the dead letter of `msgId`. */
  const deadLetterOf = async (msgId: string): Promise<number> =>
    (
      await eventually(async () =>
        (await dlqMessages(bus)).find((m) => m.headers?.get(Header.DlqOriginalMsgId) === msgId),
      )
    ).info.streamSequence;

  describe('replay and redrive', () => {
    it('refuses to re-sign a forged message, from DLQ or from its stream, and publishes nothing', async () => {
      // a genuine signature over one payload, sent with another: what a forger can do
      const data = toBinary(
        StageCommandSchema,
        create(StageCommandSchema, { runId: 'forged', stage: 'plan' }),
      );
      const contentType = 'application/protobuf; proto=heady.v1.StageCommand';
      const sig = await new MessageSigner(epoch).sign({
        subject: 'pipeline.stage.plan',
        msgId: 'forged:plan:0',
        contentType,
        payload: toBinary(
          StageCommandSchema,
          create(StageCommandSchema, { runId: 'genuine', stage: 'plan' }),
        ),
      });
      const h = headers();
      for (const [k, v] of Object.entries({ ...sig, [Header.ContentType]: contentType }))
        h.set(k, v);
      const forged = await bus.js.publish('pipeline.stage.plan', data, {
        msgID: 'forged:plan:0',
        headers: h,
      });
      const dlqSeq = await deadLetterOf('forged:plan:0');
      const before = (await bus.jsm.streams.info('PIPELINE')).state.last_seq;

      for (const [stream, seq] of [
        ['DLQ', dlqSeq],
        ['PIPELINE', forged.seq],
      ] as const) {
        const refused = replayMessage(bus.jsm, opPub, verifier, stream, seq);
        await expect(refused).rejects.toBeInstanceOf(ReplayRefusedError);
        await expect(refused).rejects.toMatchObject({ reason: 'bad-signature' });
        await expect(refused).rejects.toThrow(/does not verify \(bad-signature/);
      }
      expect((await bus.jsm.streams.info('PIPELINE')).state.last_seq).toBe(before);
      expect(handled).not.toContain('forged');
    });

    const strictVerifier = () =>
      new MessageVerifier(registry, { rootPublicKey: root.publicKey, maxSkewMs: 1_000 });

    it('redrives a genuine dead letter, verified against when its original was stored', async () => {
      failFirst.add('dead-once');
      await pub.publish('pipeline.stage.plan', cmd('dead-once'), { msgId: 'dead-once:plan:0' });
      const dlqSeq = await deadLetterOf('dead-once:plan:0');
      // a verifier with a 1 s window, 1.5 s later: freshness is judged at storage, not now
      await new Promise((r) => setTimeout(r, 1_500));
      const r = await replayMessage(bus.jsm, opPub, strictVerifier(), 'DLQ', dlqSeq);
      expect(r.subject).toBe('pipeline.stage.plan');
      expect(parseReplayOf(r.replayOf)).toEqual({
        stream: 'DLQ',
        seq: dlqSeq,
        kid: epoch.cert.kid,
        subject: 'pipeline.stage.plan',
        msgId: 'dead-once:plan:0',
      });
      await eventually(() => count('dead-once') === 1);
    });

    it('judges a dead letter whose original is gone by its Heady-Dlq-Stored-At, else by its own stored time', async () => {
      // dead-lettered 1.5 s after it was stored (nobody consumes finalize here), then deleted
      const letters: number[] = [];
      for (const [runId, keepTime] of [
        ['late-kept', true],
        ['late-untimed', false],
      ] as const) {
        const ack = await pub.publish('pipeline.stage.finalize', cmd(runId), {
          msgId: `${runId}:finalize:0`,
        });
        await new Promise((r) => setTimeout(r, 1_500));
        const m = await bus.jsm.streams.getMessage('PIPELINE', { seq: ack.seq });
        if (!m) throw new Error('no original');
        await copyToDlq(
          bus.js,
          {
            stream: 'PIPELINE',
            consumer: 'stage-finalize',
            seq: m.seq,
            subject: m.subject,
            deliveries: 5,
            data: m.data,
            headers: m.header,
            reason: 'test',
            ...(keepTime ? { storedAt: m.time.getTime() } : {}),
          },
          'handler',
        );
        await bus.jsm.streams.deleteMessage('PIPELINE', ack.seq);
        letters.push(await deadLetterOf(`${runId}:finalize:0`));
      }
      const [kept, untimed] = letters as [number, number];
      await replayMessage(bus.jsm, opPub, strictVerifier(), 'DLQ', kept, {
        toSubject: 'pipeline.stage.execute',
      });
      // without the original's time, the dead letter's own is the reference: stale here
      await expect(
        replayMessage(bus.jsm, opPub, strictVerifier(), 'DLQ', untimed, {
          toSubject: 'pipeline.stage.execute',
        }),
      ).rejects.toMatchObject({ reason: 'stale' });
      await eventually(() => count('late-kept') === 1);
      expect(handled).not.toContain('late-untimed');
    });

    it('replays a RESTRICTED message that its consumer opens, the reference naming the original', async () => {
      const ack = await pub.publish('pipeline.stage.plan', cmd('sealed'), {
        msgId: 'sealed:plan:0',
        classification: 'RESTRICTED',
      });
      await eventually(() => count('sealed') === 1);
      const r = await replayMessage(bus.jsm, opPub, verifier, ack.stream, ack.seq);
      expect(parseReplayOf(r.replayOf)).toMatchObject({
        stream: 'PIPELINE',
        seq: ack.seq,
        subject: 'pipeline.stage.plan',
        msgId: 'sealed:plan:0',
      });
      await eventually(() => count('sealed') === 2);
    });

    it('redrives a RESTRICTED dead letter, still sealed to its original, to its consumer', async () => {
      failFirst.add('sealed-dead');
      await pub.publish('pipeline.stage.plan', cmd('sealed-dead'), {
        msgId: 'sealed-dead:plan:0',
        classification: 'RESTRICTED',
      });
      const dlqSeq = await deadLetterOf('sealed-dead:plan:0');
      await replayMessage(bus.jsm, opPub, verifier, 'DLQ', dlqSeq);
      await eventually(() => count('sealed-dead') === 1);
    });
  });

  describe('revocations', () => {
    const revokeNew = async (): Promise<MessageSigner & { kid: string }> => {
      const e = newEpoch(identity, `pipeline-${Math.random()}`, HOUR);
      await registry.putEpoch(e.cert);
      await registry.putRevocation(revoke(rootIssuer, e.cert.kid, 'compromised'));
      return Object.assign(new MessageSigner(e), { kid: e.cert.kid });
    };
    const keysKv = () => new Kvm(bus.nc).open('heady-keys');

    it('a deleted revocation does not un-revoke a key', async () => {
      const s = await revokeNew();
      const kv = await keysKv();
      await kv.delete(`revoked.${s.kid}`);
      await kv.purge(`revoked.${s.kid}`);
      const r = await fresh();
      expect(await r.revoked(s.kid)).toBe(true);
      expect(await verifyWith(r, s, 'pipeline.stage.plan', 'del:1')).toMatchObject({
        ok: false,
        reason: 'revoked-key',
      });
    });

    it('an overwritten revocation does not un-revoke a key, however often it is overwritten', async () => {
      const s = await revokeNew();
      const kv = await keysKv();
      for (let i = 0; i < 8; i++) await kv.put(`revoked.${s.kid}`, '{"v":1,"kid":"junk"}');
      // junk appended to the revocation stream does not hide the signed revocation either
      await bus.js.publish(`keys.revoked.${s.kid}`, new TextEncoder().encode('{"v":1}'));
      expect(await (await fresh()).revoked(s.kid)).toBe(true);
    });

    it('keeps revocations in a stream that refuses deleting and purging', async () => {
      const s = await revokeNew();
      const m = await bus.jsm.streams.getMessage(REVOCATION_STREAM, {
        last_by_subj: `keys.revoked.${s.kid}`,
      });
      expect(m).toBeTruthy();
      await expect(bus.jsm.streams.deleteMessage(REVOCATION_STREAM, m?.seq ?? 0)).rejects.toThrow();
      await expect(bus.jsm.streams.purge(REVOCATION_STREAM)).rejects.toThrow();
      expect(await (await fresh()).revoked(s.kid)).toBe(true);
    });

    it('ignores an unsigned revocation', async () => {
      const e = newEpoch(identity, 'pipeline-unsigned-revocation', HOUR);
      await registry.putEpoch(e.cert);
      const bogus = { ...revoke(rootIssuer, e.cert.kid, 'x'), reason: 'changed after signing' };
      await registry.putRevocation(bogus);
      expect(await (await fresh()).revoked(e.cert.kid)).toBe(false);
    });
  });

  describe('certificates', () => {
    it('does not trust an identity and epoch planted in heady-keys unsigned by the root', async () => {
      const attacker = compositeKeygen();
      const planted = identityOf('intruder', 'identity', {
        kid: keyId(attacker.publicKey),
        secretKey: attacker.secretKey,
      });
      // claims the root as issuer but carries the attacker's signature
      const claimed = { ...planted.cert, issuer: rootIssuer.kid };
      const e = newEpoch(planted, 'intruder-1', HOUR);
      const kv = await new Kvm(bus.nc).open('heady-keys');
      await kv.put('identity.intruder', JSON.stringify(claimed));
      await kv.put(`identity.intruder.${claimed.kid}`, JSON.stringify(claimed));
      await kv.put(`epoch.${e.cert.kid}`, JSON.stringify(e.cert));
      const r = await fresh();
      expect(await r.identity('intruder')).toBeUndefined();
      expect(await r.epoch(e.cert.kid)).toBeUndefined();
      expect(
        await verifyWith(r, new MessageSigner(e), 'pipeline.stage.plan', 'planted:1'),
      ).toMatchObject({ ok: false, reason: 'unknown-key' });
      const listed = (await r.list()).filter((x) => x.key.includes('intruder'));
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.every((x) => !x.trusted)).toBe(true);
    });

    it("does not trust a root-signed identity filed under another service's name", async () => {
      const gateway = identityOf('gateway');
      const kv = await new Kvm(bus.nc).open('heady-keys');
      await kv.put('identity.billing', JSON.stringify(gateway.cert));
      const e = newEpoch(gateway, 'gateway-as-billing', HOUR);
      await kv.put(`epoch.${e.cert.kid}`, JSON.stringify({ ...e.cert, service: 'billing' }));
      const r = await fresh();
      expect(await r.identity('billing')).toBeUndefined();
      expect(await r.epoch(e.cert.kid)).toBeUndefined();
    });

    it("keeps messages signed under a service's previous identity verifiable after it is re-issued", async () => {
      const before = identityOf('vector-memory');
      const oldEpoch = newEpoch(before, 'vm-1', HOUR);
      await registry.putIdentity(before.cert);
      await registry.putEpoch(oldEpoch.cert);
      const signer = new MessageSigner(oldEpoch);
      const reissued = identityOf('vector-memory');
      await registry.putIdentity(reissued.cert);
      const r = await fresh();
      expect((await r.identity('vector-memory'))?.kid).toBe(reissued.cert.kid);
      expect(await verifyWith(r, signer, 'pipeline.stage.plan', 'old-identity:1')).toMatchObject({
        ok: true,
        service: 'vector-memory',
      });
      // revoking the previous identity ends that
      await registry.putRevocation(revoke(rootIssuer, before.cert.kid, 're-issued'));
      expect(
        await verifyWith(await fresh(), signer, 'pipeline.stage.plan', 'old-identity:2'),
      ).toMatchObject({ ok: false, reason: 'revoked-key' });
    });
  });
});
