import { describe, expect, it } from 'vitest';
import {
  compositeKeygen,
  compositeSign,
  compositeVerify,
  keyId,
  splitSignature,
} from './composite.js';
import {
  type Certificate,
  issueCertificate,
  revoke,
  subjectPermitted,
  verifyCertificate,
  verifyRevocation,
} from './certs.js';
import { merkleTree, verifyInclusion, encodeProof, decodeProof } from './merkle.js';
import { BatchSigner } from './batch-signer.js';
import { MessageSigner, SigHeader } from './signer.js';
import { type KeyResolver, MessageVerifier } from './verifier.js';
import { formatReplayOf, parseReplayOf } from './fields.js';
import { newEpoch } from './keystore.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const root = compositeKeygen();
const rootKid = keyId(root.publicKey);

describe('composite ML-DSA-65 + Ed25519', () => {
  const k = compositeKeygen();
  const sig = compositeSign(k.secretKey, bytes('hello'));

  it('verifies its own signature', () => {
    expect(compositeVerify(k.publicKey, bytes('hello'), sig)).toBe(true);
  });
  it('rejects another message, another key, and a flipped byte in either component', () => {
    expect(compositeVerify(k.publicKey, bytes('hellO'), sig)).toBe(false);
    expect(compositeVerify(compositeKeygen().publicKey, bytes('hello'), sig)).toBe(false);
    const { mldsa } = splitSignature(sig);
    for (const at of [5, mldsa.length + 5]) {
      const bad = sig.slice();
      bad[at] = (bad[at] ?? 0) ^ 1;
      expect(compositeVerify(k.publicKey, bytes('hello'), bad)).toBe(false);
    }
  });
  it('is invalid when only one component is genuine (stripping attack)', () => {
    const other = compositeKeygen();
    const otherSig = compositeSign(other.secretKey, bytes('hello'));
    const mixed = new Uint8Array([
      ...splitSignature(sig).mldsa,
      ...splitSignature(otherSig).ed25519,
    ]);
    expect(compositeVerify(k.publicKey, bytes('hello'), mixed)).toBe(false);
  });
});

describe('merkle inclusion proofs', () => {
  it.each([1, 2, 3, 5, 8, 13])('prove every leaf of a %i-leaf tree and nothing else', (n) => {
    const data = Array.from({ length: n }, (_, i) => bytes(`m${i}`));
    const { root: r, proofs } = merkleTree(data);
    data.forEach((d, i) => {
      const p = decodeProof(encodeProof(proofs[i]!))!;
      expect(verifyInclusion(d, p, r)).toBe(true);
      expect(verifyInclusion(bytes('forged'), p, r)).toBe(false);
      if (n > 1) expect(verifyInclusion(d, { ...p, index: (i + 1) % n }, r)).toBe(false);
    });
  });
});

describe(BatchSigner.name, () => {
  it('signs a burst with one signature and a lone message alone', async () => {
    const k = compositeKeygen();
    const s = new BatchSigner(k.secretKey, { maxDelayMs: 5 });
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => s.sign(bytes(`d${i}`))));
    expect(new Set(burst.map((b) => Buffer.from(b.signature).toString('hex'))).size).toBe(1);
    expect(s.stats).toEqual({ batches: 1, messages: 20 });
    const lone = await s.sign(bytes('alone'));
    expect(lone.proof.count).toBe(1);
    expect(compositeVerify(k.publicKey, lone.root, lone.signature)).toBe(true);
  });
});

describe('certificates', () => {
  const id = compositeKeygen();
  const cert = issueCertificate(
    { kid: rootKid, secretKey: root.secretKey },
    {
      kind: 'identity',
      service: 'pipeline',
      publicKey: id.publicKey,
      subjects: ['pipeline.>'],
      notBefore: 0,
      notAfter: 1e15,
    },
  );
  it('verify under the issuer and not after any change', () => {
    expect(verifyCertificate(cert, root.publicKey)).toBe(true);
    expect(verifyCertificate({ ...cert, subjects: ['>'] }, root.publicKey)).toBe(false);
    expect(verifyCertificate(cert, compositeKeygen().publicKey)).toBe(false);
  });
  it('accept only root-signed revocations', () => {
    const r = revoke({ kid: rootKid, secretKey: root.secretKey }, cert.kid, 'test');
    expect(verifyRevocation(r, root.publicKey)).toBe(true);
    expect(verifyRevocation({ ...r, kid: 'other' }, root.publicKey)).toBe(false);
  });
  it('match subjects with NATS wildcards', () => {
    expect(subjectPermitted(['pipeline.>'], 'pipeline.stage.plan')).toBe(true);
    expect(subjectPermitted(['pipeline.stage.channel-entry'], 'pipeline.stage.plan')).toBe(false);
  });
});

describe(MessageVerifier.name, () => {
  const id = compositeKeygen();
  const identity = issueCertificate(
    { kid: rootKid, secretKey: root.secretKey },
    {
      kind: 'identity',
      service: 'pipeline',
      publicKey: id.publicKey,
      subjects: ['pipeline.>'],
      notBefore: 0,
      notAfter: 1e15,
    },
  );
  const ek = compositeKeygen();
  const epoch = issueCertificate(
    { kid: identity.kid, secretKey: id.secretKey },
    {
      kind: 'epoch',
      service: 'pipeline',
      publicKey: ek.publicKey,
      subjects: ['pipeline.>'],
      notBefore: 0,
      notAfter: 1e15,
    },
  );
  const revoked = new Set<string>();
  const certs = new Map<string, Certificate>([[epoch.kid, epoch]]);
  const resolver: KeyResolver = {
    epoch: (kid) => Promise.resolve(certs.get(kid)),
    identity: (s) => Promise.resolve(s === 'pipeline' ? identity : undefined),
    revoked: (kid) => Promise.resolve(revoked.has(kid)),
  };
  const signer = new MessageSigner({ key: ek, cert: epoch });
  const verifier = new MessageVerifier(resolver, { rootPublicKey: root.publicKey, chainTtlMs: 0 });
  const payload = bytes('{"x":1}');
  const base = {
    subject: 'pipeline.stage.plan',
    msgId: 'r:plan:0',
    contentType: 'application/json',
    payload,
  };
  const signed = async () => {
    const h = await signer.sign({ ...base, classification: 'PROPRIETARY' });
    return { ...base, header: (n: string) => h[n], h };
  };

  it('accepts a genuine message', async () => {
    await expect(verifier.verify(await signed())).resolves.toMatchObject({
      ok: true,
      service: 'pipeline',
      classification: 'PROPRIETARY',
    });
  });
  it('trusts the roots its own signer reports without verifying them again, and nothing else', async () => {
    const own = new MessageVerifier(resolver, { rootPublicKey: root.publicKey, chainTtlMs: 0 });
    const selfSigner = new MessageSigner(
      { key: ek, cert: epoch },
      { onRoot: (kid, r) => own.trustRoot(kid, r) },
    );
    const h = await selfSigner.sign({ ...base, classification: 'INTERNAL' });
    // the signature is withheld: only a trusted root can make this pass
    const withoutSig = {
      ...base,
      header: (n: string) => (n === SigHeader.Signature ? undefined : h[n]),
    };
    const stranger = new MessageVerifier(resolver, {
      rootPublicKey: root.publicKey,
      chainTtlMs: 0,
    });
    expect(await stranger.verify(withoutSig)).toMatchObject({ ok: false });
    expect(await own.verify(withoutSig)).toMatchObject({ ok: true, service: 'pipeline' });
    // the proof and the signed fields are still checked for a trusted root
    expect((await own.verify({ ...withoutSig, msgId: 'r:plan:9' })).ok).toBe(false);
    // and a revoked key is refused even for its own roots
    revoked.add(epoch.kid);
    try {
      expect(await own.verify(withoutSig)).toMatchObject({ ok: false, reason: 'revoked-key' });
    } finally {
      revoked.delete(epoch.kid);
    }
  });
  it('rejects a tampered payload, subject, msg id, classification downgrade and proof', async () => {
    const m = await signed();
    const tampered = payload.slice();
    tampered[2] = 0x79;
    const cases = [
      { ...m, payload: tampered },
      { ...m, subject: 'pipeline.stage.execute' },
      { ...m, msgId: 'r:plan:1' },
      { ...m, header: (n: string) => (n === SigHeader.Classification ? 'PUBLIC' : m.h[n]) },
      { ...m, header: (n: string) => (n === SigHeader.Proof ? '0.2.' + 'A'.repeat(86) : m.h[n]) },
      {
        ...m,
        header: (n: string) => (n === SigHeader.IssuedAt ? String(Number(m.h[n]) + 1) : m.h[n]),
      },
    ];
    for (const c of cases) expect((await verifier.verify(c)).ok).toBe(false);
  });
  it('rejects unsigned, unknown-key, out-of-scope, stale and revoked messages with their reason', async () => {
    const m = await signed();
    expect(await verifier.verify({ ...m, header: () => undefined })).toMatchObject({
      reason: 'unsigned',
    });
    expect(
      await verifier.verify({
        ...m,
        header: (n: string) => (n === SigHeader.Kid ? 'ffff' : m.h[n]),
      }),
    ).toMatchObject({ reason: 'unknown-key' });
    expect(await verifier.verify({ ...m, subject: 'billing.paid' })).toMatchObject({
      reason: 'subject-not-permitted',
    });
    expect(await verifier.verify({ ...m, storedAt: Date.now() + 10 * 60_000 })).toMatchObject({
      reason: 'stale',
    });
    revoked.add(epoch.kid);
    expect(await verifier.verify(m)).toMatchObject({ reason: 'revoked-key' });
    revoked.delete(epoch.kid);
  });
  it('accepts a replay only from an operator key, and only as a replay', async () => {
    const opId = compositeKeygen();
    const operator = issueCertificate(
      { kid: rootKid, secretKey: root.secretKey },
      {
        kind: 'operator',
        service: 'ops-alice',
        publicKey: opId.publicKey,
        subjects: ['>'],
        notBefore: 0,
        notAfter: 1e15,
      },
    );
    const opEpoch = newEpoch({ cert: operator, key: opId }, 'cli', 3_600_000);
    certs.set(opEpoch.cert.kid, opEpoch.cert);
    const r = new MessageVerifier(
      { ...resolver, identity: (s) => Promise.resolve(s === 'ops-alice' ? operator : identity) },
      { rootPublicKey: root.publicKey },
    );
    const replayOf = formatReplayOf({ stream: 'PIPELINE', seq: 7, kid: epoch.kid });
    const opSigner = new MessageSigner(opEpoch);
    const rh = await opSigner.sign({ ...base, replayOf });
    const replay = { ...base, header: (n: string) => rh[n] };
    expect(await r.verify(replay)).toMatchObject({
      ok: true,
      service: 'ops-alice',
      replayOf: { stream: 'PIPELINE', seq: 7, kid: epoch.kid },
    });
    // the reference is signed: pointing it at another message breaks the signature
    const moved = formatReplayOf({ stream: 'PIPELINE', seq: 8, kid: epoch.kid });
    expect(
      await r.verify({ ...replay, header: (n) => (n === SigHeader.ReplayOf ? moved : rh[n]) }),
    ).toMatchObject({ reason: 'bad-signature' });
    // stripping the reference cannot turn the replay into an original either
    expect(
      await r.verify({ ...replay, header: (n) => (n === SigHeader.ReplayOf ? undefined : rh[n]) }),
    ).toMatchObject({ reason: 'replay-not-authorised' });
    // a service key may not replay
    const sh = await signer.sign({ ...base, replayOf });
    expect(await r.verify({ ...base, header: (n) => sh[n] })).toMatchObject({
      reason: 'replay-not-authorised',
    });
    expect(
      await r.verify({ ...replay, header: (n) => (n === SigHeader.ReplayOf ? 'junk' : rh[n]) }),
    ).toMatchObject({ reason: 'malformed' });
  });
  it('round-trips a replay reference naming the original subject and msg id', () => {
    const ref = {
      stream: 'DLQ',
      seq: 12,
      kid: 'a'.repeat(32),
      subject: 'pipeline.stage.plan',
      msgId: 'run/1:plan:0 ~ é',
    };
    const s = formatReplayOf(ref);
    expect(s).toMatch(/^DLQ\/12\/a{32}\/pipeline\.stage\.plan\/[A-Za-z0-9_-]+$/);
    expect(parseReplayOf(s)).toEqual(ref);
    expect(parseReplayOf('DLQ/12/' + 'a'.repeat(32))).toEqual({
      stream: 'DLQ',
      seq: 12,
      kid: 'a'.repeat(32),
    });
    expect(parseReplayOf(`${s}/extra`)).toBeUndefined();
  });
  it('rejects a key certified by an identity the root never signed', async () => {
    const rogueRoot = compositeKeygen();
    const rogueVerifier = new MessageVerifier(resolver, { rootPublicKey: rogueRoot.publicKey });
    expect(await rogueVerifier.verify(await signed())).toMatchObject({ reason: 'untrusted-key' });
  });
});
