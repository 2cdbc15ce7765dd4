import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compositeKeygen, keyId } from './composite.js';
import { issueCertificate, recipientOf, verifyCertificate, unb64 } from './certs.js';
import { KemKeyStore } from './kem-store.js';
import { SealedError, kemKeygen, openPayload, sealPayload, sealedKeyRef } from './sealed.js';

const text = (s: string) => new TextEncoder().encode(s);
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'heady-kem-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SealedError) return e.reason;
    throw e;
  }
  return 'opened';
}

describe('sealed payloads', () => {
  const k = kemKeygen();
  const secretFor = (ref: string) => (ref === 'pipeline.7' ? k.secretKey : undefined);
  const plain = text('{"ssn":"078-05-1120"}');
  const env = sealPayload(plain, { keyRef: 'pipeline.7', publicKey: k.publicKey }, 's.a', 'm1');

  it('open to the plaintext with the recipient secret, and hide it from everyone else', () => {
    expect(sealedKeyRef(env)).toBe('pipeline.7');
    expect(Buffer.from(env).includes(Buffer.from('078-05-1120'))).toBe(false);
    expect(openPayload(env, secretFor, 's.a', 'm1')).toEqual(plain);
    const other = kemKeygen();
    expect(reasonOf(() => openPayload(env, () => other.secretKey, 's.a', 'm1'))).toBe(
      'bad-ciphertext',
    );
  });

  it('do not open on another subject or message, nor after any flipped byte', () => {
    expect(reasonOf(() => openPayload(env, secretFor, 's.b', 'm1'))).toBe('bad-ciphertext');
    expect(reasonOf(() => openPayload(env, secretFor, 's.a', 'm2'))).toBe('bad-ciphertext');
    for (const i of [20, 600, 5 + 10 + 1120 + 3, env.length - 1]) {
      const t = env.slice();
      t[i] = (t[i] ?? 0) ^ 1;
      expect(reasonOf(() => openPayload(t, secretFor, 's.a', 'm1'))).toBe('bad-ciphertext');
    }
    expect(reasonOf(() => openPayload(text('plain'), secretFor, 's.a', 'm1'))).toBe('malformed');
  });
});

describe(KemKeyStore.name, () => {
  const rotationMs = 1_000;
  const retentionMs = 2_000;

  it('lets every instance sharing the directory agree on one key per epoch', () => {
    const dir = tempDir();
    const a = new KemKeyStore(dir, 'pipeline', { rotationMs, retentionMs });
    const b = new KemKeyStore(dir, 'pipeline', { rotationMs, retentionMs });
    expect(a.ensure(5).publicKey).toEqual(b.ensure(5).publicKey);
    expect(a.ensure(6).publicKey).not.toEqual(a.ensure(5).publicKey);
  });

  it('certifies an epoch key under the service identity', () => {
    const root = compositeKeygen();
    const id = compositeKeygen();
    const identity = issueCertificate(
      { kid: keyId(root.publicKey), secretKey: root.secretKey },
      {
        kind: 'identity',
        service: 'pipeline',
        publicKey: id.publicKey,
        subjects: [],
        notBefore: 0,
        notAfter: 1e15,
      },
    );
    const store = new KemKeyStore(tempDir(), 'pipeline', { rotationMs, retentionMs });
    const cert = store.certify({ cert: identity, key: id }, 9, 100);
    expect(cert).toMatchObject({ kind: 'kem', instance: '9', notBefore: 8_900, notAfter: 10_100 });
    expect(verifyCertificate(cert, id.publicKey)).toBe(true);
    expect(unb64(cert.publicKey)).toEqual(store.ensure(9).publicKey);
  });

  it('deletes an epoch secret after rotation plus retention; its old ciphertexts never open again', () => {
    const dir = tempDir();
    const store = new KemKeyStore(dir, 'pipeline', { rotationMs, retentionMs });
    const epoch = store.epochAt(10_500); // 10
    const { keyRef, publicKey } = store.ensure(epoch);
    const env = sealPayload(text('secret'), { keyRef, publicKey }, 'pipeline.stage.plan', 'r:0');
    const open = () => openPayload(env, (r) => store.secret(r), 'pipeline.stage.plan', 'r:0');
    expect(open()).toEqual(text('secret'));

    // epoch 10 ends at 11 000; kept until 13 000
    expect(store.purge(12_999)).toEqual([]);
    expect(open()).toEqual(text('secret'));
    expect(store.purge(13_001)).toEqual([keyRef]);
    expect(readdirSync(join(dir, 'kem', 'pipeline'))).toEqual([]);
    expect(reasonOf(open)).toBe('key-gone');
    // a fresh store on the same directory (a restarted process) cannot open it either
    const restarted = new KemKeyStore(dir, 'pipeline', { rotationMs, retentionMs });
    expect(
      reasonOf(() => openPayload(env, (r) => restarted.secret(r), 'pipeline.stage.plan', 'r:0')),
    ).toBe('key-gone');
  });
});

describe(recipientOf.name, () => {
  it('names the service consuming a subject', () => {
    expect(recipientOf('pipeline.stage.plan')).toBe('pipeline');
    expect(recipientOf('conductor.runs.start')).toBe('conductor');
    expect(recipientOf('audit.routing')).toBeUndefined();
  });
});
