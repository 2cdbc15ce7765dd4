import { type DeviceRecord, GENESIS_HASH, type StoredBlob } from '@heady/contracts';
import { describe, expect, it } from 'vitest';
import { EMPTY_HEAD, SyncIntegrityError, verifyPage } from './chain.js';
import { DeviceClient } from './client.js';
import { decrypt, newContentKey, openContentKey, publicKeyOf, sealContentKey } from './keys.js';
import { envelopeHash, publicKeyProblem } from './wire.js';

const USER = '11111111-1111-4111-8111-111111111111';

function device(alg: 'ed25519' | 'mldsa65-ed25519' = 'ed25519'): {
  client: DeviceClient;
  record: DeviceRecord;
} {
  const client = DeviceClient.create({ baseUrl: 'http://unused', apiKey: 'hk_x' }, USER, alg);
  const id = `2222222${alg === 'ed25519' ? '2' : '3'}-2222-4222-8222-222222222222`;
  client.state.deviceId = id;
  const { kid, key } = newContentKey();
  client.state.keyring[kid] = key;
  client.state.currentKid = kid;
  const record: DeviceRecord = {
    id,
    name: 'd',
    publicKey: publicKeyOf(client.state.keys),
    createdAt: new Date().toISOString(),
    lastSeenAt: null,
    revokedAt: null,
    revokedAfterSeq: null,
  };
  return { client, record };
}

function log(client: DeviceClient, n: number): StoredBlob[] {
  const out: StoredBlob[] = [];
  let head = EMPTY_HEAD;
  for (let i = 0; i < n; i++) {
    const e = client.seal(new TextEncoder().encode(`blob ${i}`), head);
    const hash = envelopeHash(USER, e);
    out.push({ ...e, hash, createdAt: new Date().toISOString() });
    head = { seq: e.seq, hash };
  }
  return out;
}

const headOf = (b: StoredBlob[]) => {
  const last = b.at(-1);
  return last ? { seq: last.seq, hash: last.hash } : EMPTY_HEAD;
};

function kindOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof SyncIntegrityError ? e.kind : `other: ${String(e)}`;
  }
}

describe(verifyPage.name, () => {
  const { client, record } = device();
  const blobs = log(client, 4);

  it('accepts an intact log and returns its head', () => {
    expect(verifyPage(USER, EMPTY_HEAD, { blobs, head: headOf(blobs) }, [record])).toEqual(
      headOf(blobs),
    );
  });

  it('detects a rollback, a fork, a gap, tampering and a forged signature', () => {
    const known = headOf(blobs);
    const short = blobs.slice(0, 2);
    expect(
      kindOf(() => verifyPage(USER, known, { blobs: [], head: headOf(short) }, [record])),
    ).toBe('rollback');
    expect(
      kindOf(() =>
        verifyPage(USER, known, { blobs: [], head: { seq: 4, hash: GENESIS_HASH } }, [record]),
      ),
    ).toBe('fork');
    const gap = [blobs[0], blobs[2]] as StoredBlob[];
    expect(
      kindOf(() => verifyPage(USER, EMPTY_HEAD, { blobs: gap, head: headOf(blobs) }, [record])),
    ).toBe('gap');
    const tampered = blobs.map((b, i) => (i === 1 ? { ...b, ct: `${b.ct.slice(0, -4)}AAA=` } : b));
    expect(
      kindOf(() =>
        verifyPage(USER, EMPTY_HEAD, { blobs: tampered, head: headOf(blobs) }, [record]),
      ),
    ).toBe('bad-hash');
    const other = device('mldsa65-ed25519');
    const impostor = { ...record, publicKey: other.record.publicKey };
    expect(
      kindOf(() => verifyPage(USER, EMPTY_HEAD, { blobs, head: headOf(blobs) }, [impostor])),
    ).toBe('bad-signature');
    const revoked = { ...record, revokedAt: new Date().toISOString(), revokedAfterSeq: 2 };
    expect(
      kindOf(() => verifyPage(USER, EMPTY_HEAD, { blobs, head: headOf(blobs) }, [revoked])),
    ).toBe('revoked-device');
  });
});

describe('content keys', () => {
  it('open only for the device they were sealed to, and decrypt only under the right key', () => {
    const a = device();
    const b = device('mldsa65-ed25519');
    expect(publicKeyProblem(a.record.publicKey)).toBeUndefined();
    expect(publicKeyProblem(b.record.publicKey)).toBeUndefined();
    const { kid, key } = newContentKey();
    const sealed = sealContentKey(key, kid, USER, {
      deviceId: b.record.id,
      kem: b.record.publicKey.kem,
    });
    expect(openContentKey(sealed, kid, USER, b.record.id, b.client.state.keys.kemSecret)).toEqual(
      key,
    );
    expect(() =>
      openContentKey(sealed, kid, USER, a.record.id, a.client.state.keys.kemSecret),
    ).toThrow();
    const e = a.client.seal(new TextEncoder().encode('x'));
    expect(() => decrypt(key, e.kid, USER, e.nonce, e.ct)).toThrow();
  });
});
