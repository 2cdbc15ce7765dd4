import { GENESIS_HASH } from '@heady/contracts';
import { createDb, type Database, ensureOrganization, ensureUser, type Kysely } from '@heady/db';
import { DeviceClient, envelopeHash } from '@heady/device-client';
import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentsRepository } from '../src/consents/consents.repository.js';
import { TrackingRepository } from '../src/consents/tracking.repository.js';
import { DevicesRepository } from '../src/devices/devices.repository.js';
import { BlobsRepository } from '../src/sync/blobs.repository.js';

// The repositories against a real PostgreSQL: the hash chain's append is the only guard of
// a user's log order, so races and stale heads are tried here, in detail.
describe(BlobsRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let blobs: BlobsRepository;
  let devices: DevicesRepository;
  let consents: ConsentsRepository;
  let tracking: TrackingRepository;
  let orgId: string;
  let userId: string;
  let client: DeviceClient;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_device_repo');
    db = createDb({ url: pg.url, poolMax: 8 });
    blobs = new BlobsRepository(db);
    devices = new DevicesRepository(db);
    consents = new ConsentsRepository(db);
    tracking = new TrackingRepository(db);
    orgId = (await ensureOrganization(db, 'repo-org')).id;
    userId = (await ensureUser(db, { orgId, email: 'repo@org.test' })).id;
    client = DeviceClient.create({ baseUrl: 'http://unused', apiKey: 'hk_unused' }, userId);
    const d = await devices.insert({
      orgId,
      userId,
      name: 'd',
      publicKey: {
        alg: 'ed25519',
        sign: Buffer.from(client.state.keys.signPublic).toString('base64'),
        kem: Buffer.from(client.state.keys.kemPublic).toString('base64'),
      },
    });
    client.state.deviceId = d.id;
    client.state.keyring.k1 = new Uint8Array(32).fill(9);
    client.state.currentKid = 'k1';
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  const data = (s: string) => new TextEncoder().encode(s);

  it('appends only a blob that continues the head, and exactly one of two racing writers', async () => {
    expect(await blobs.head(orgId, userId)).toEqual({ seq: 0, hash: GENESIS_HASH });
    const first = client.seal(data('one'));
    expect(await blobs.append(orgId, userId, first, envelopeHash(userId, first))).toBe(true);
    // the same seq again, or a seq naming a wrong previous hash, is refused
    const again = client.seal(data('one again'), { seq: 0, hash: GENESIS_HASH });
    expect(await blobs.append(orgId, userId, again, envelopeHash(userId, again))).toBe(false);
    const wrongPrev = client.seal(data('two'), { seq: 1, hash: 'f'.repeat(64) });
    expect(await blobs.append(orgId, userId, wrongPrev, envelopeHash(userId, wrongPrev))).toBe(
      false,
    );
    const skip = client.seal(data('three'), { seq: 2, hash: envelopeHash(userId, first) });
    expect(await blobs.append(orgId, userId, skip, envelopeHash(userId, skip))).toBe(false);

    const head = { seq: 1, hash: envelopeHash(userId, first) };
    const racers = Array.from({ length: 6 }, (_, i) => client.seal(data(`racer ${i}`), head));
    const won = await Promise.all(
      racers.map((e) => blobs.append(orgId, userId, e, envelopeHash(userId, e))),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    const log = await blobs.after(orgId, userId, 0, 10);
    expect(log.map((b) => b.seq)).toEqual([1, 2]);
    expect(log[1]?.prev).toBe(head.hash);
    expect((await blobs.head(orgId, userId)).seq).toBe(2);
  });

  it("records the log's head when a device is revoked, and keeps the first revocation", async () => {
    const id = client.deviceId;
    const r = await devices.revoke(orgId, userId, id);
    expect(r?.revokedAfterSeq).toBe(2);
    const again = await devices.revoke(orgId, userId, id);
    expect(again?.revokedAt).toBe(r?.revokedAt);
    expect(
      await devices.revoke(orgId, userId, '00000000-0000-4000-8000-000000000000'),
    ).toBeUndefined();
  });

  it('refuses a nonce seen before', async () => {
    expect(await devices.useNonce(client.deviceId, 'nonce-aaaaaaaaaaaaaaaa')).toBe(true);
    expect(await devices.useNonce(client.deviceId, 'nonce-aaaaaaaaaaaaaaaa')).toBe(false);
  });

  it('keeps every consent change and stores tracking only while the consent is open', async () => {
    const granted = await consents.change(orgId, userId, 'TRACKING', true, false);
    expect(granted.changed).toBe(true);
    expect((await consents.change(orgId, userId, 'TRACKING', true, false)).changed).toBe(false);
    const open = await consents.open(orgId, userId, 'TRACKING');
    expect(open).toBe(granted.consent.id);
    const ev = { orgId, userId, consentId: granted.consent.id, event: 'e', properties: {} };
    expect(await tracking.insertUnderConsent(ev)).toBeTruthy();
    const revoked = await consents.change(orgId, userId, 'TRACKING', false, true);
    expect(revoked.erased).toBe(1);
    expect(revoked.consent.revokedAt).not.toBeNull();
    expect(await tracking.insertUnderConsent(ev)).toBeUndefined();
    await consents.change(orgId, userId, 'TRACKING', true, false);
    const history = await consents.history(orgId, userId);
    expect(history.filter((h) => h.scope === 'TRACKING')).toHaveLength(2);
  });
});
