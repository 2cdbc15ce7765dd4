import { createPublicKey, createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createMLDSA65, createMLKEM768, type MLDSA65, type MLKEM768 } from '@oqs/liboqs-js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPOSITE_LABEL,
  compositeKeygen,
  compositeMessage,
  compositeSign,
  compositeVerify,
  splitPublicKey,
  splitSignature,
} from '../src/index.js';

// Interoperability of the primitives under Heady's signatures against independent
// implementations: liboqs (Open Quantum Safe, C compiled to WebAssembly) for ML-DSA-65
// and ML-KEM-768, and OpenSSL (node:crypto) for Ed25519.
//
// liboqs's signature API signs with the empty FIPS 204 context only, so the composite's
// ML-DSA component (which carries the composite label as its context) is checked through
// the FIPS 204 framing M' = 0 ‖ len(ctx) ‖ ctx ‖ M that liboqs itself applies: a liboqs
// signature over M verifies as the internal signature over 0 ‖ 0 ‖ M, and the composite
// component verifies as the internal signature over 0 ‖ len(label) ‖ label ‖ M'.

const MLDSA_SK = 4032;
const enc = new TextEncoder();

/** FIPS 204 §5.2: the message the internal algorithm signs for a context. */
function fips204Framed(message: Uint8Array, ctx: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + ctx.length + message.length);
  out[0] = 0;
  out[1] = ctx.length;
  out.set(ctx, 2);
  out.set(message, 2 + ctx.length);
  return out;
}

/** An Ed25519 key pair from OpenSSL, as raw 32-byte seed and public key. */
function opensslEd25519(): { seed: Uint8Array; publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    seed: new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url')),
    publicKey: new Uint8Array(
      Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'),
    ),
  };
}

function opensslVerifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  sig: Uint8Array,
): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, sig);
}

describe('interoperability with liboqs and OpenSSL', () => {
  let oqsDsa: MLDSA65;
  let oqsKem: MLKEM768;

  beforeAll(async () => {
    oqsDsa = await createMLDSA65();
    oqsKem = await createMLKEM768();
  });
  afterAll(() => {
    oqsDsa.destroy();
    oqsKem.destroy();
  });

  it('ML-DSA-65: a liboqs signature verifies with noble, and a noble signature with liboqs', () => {
    const message = enc.encode('run 0193f0c8 stage plan');
    const oqsKeys = oqsDsa.generateKeyPair();
    const oqsSig = oqsDsa.sign(message, oqsKeys.secretKey);
    expect(ml_dsa65.verify(oqsSig, message, oqsKeys.publicKey)).toBe(true);

    const nobleKeys = ml_dsa65.keygen();
    const nobleSig = ml_dsa65.sign(message, nobleKeys.secretKey);
    expect(oqsDsa.verify(message, nobleSig, nobleKeys.publicKey)).toBe(true);
    // and each rejects the other's signature over a different message
    expect(
      oqsDsa.verify(enc.encode('run 0193f0c8 stage exec'), nobleSig, nobleKeys.publicKey),
    ).toBe(false);
    expect(ml_dsa65.verify(oqsSig, enc.encode('other'), oqsKeys.publicKey)).toBe(false);
  });

  it('ML-DSA-65: keys are interchangeable (noble signs with a liboqs secret key, liboqs with a noble one)', () => {
    const message = enc.encode('key formats are FIPS 204 encodings');
    const oqsKeys = oqsDsa.generateKeyPair();
    expect(
      oqsDsa.verify(message, ml_dsa65.sign(message, oqsKeys.secretKey), oqsKeys.publicKey),
    ).toBe(true);
    const nobleKeys = ml_dsa65.keygen();
    expect(
      ml_dsa65.verify(oqsDsa.sign(message, nobleKeys.secretKey), message, nobleKeys.publicKey),
    ).toBe(true);
  });

  it('ML-DSA-65: liboqs applies the FIPS 204 framing 0 ‖ 0 ‖ M for the empty context', () => {
    const message = enc.encode('framing');
    const keys = oqsDsa.generateKeyPair();
    const sig = oqsDsa.sign(message, keys.secretKey);
    expect(
      ml_dsa65.internal.verify(sig, fips204Framed(message, new Uint8Array()), keys.publicKey),
    ).toBe(true);
    expect(ml_dsa65.internal.verify(sig, message, keys.publicKey)).toBe(false);
  });

  it('composite: the ML-DSA component is the FIPS 204 signature with the composite label as context', () => {
    const { publicKey, secretKey } = compositeKeygen();
    const message = enc.encode('Heady signed fields digest');
    const sig = compositeSign(secretKey, message);
    const parts = splitSignature(sig);
    const pks = splitPublicKey(publicKey);
    const mPrime = compositeMessage(message);
    expect(
      ml_dsa65.internal.verify(parts.mldsa, fips204Framed(mPrime, COMPOSITE_LABEL), pks.mldsa),
    ).toBe(true);
    // the same component is not a signature under the empty context
    expect(oqsDsa.verify(mPrime, parts.mldsa, pks.mldsa)).toBe(false);
  });

  it('composite: the Ed25519 component verifies with OpenSSL over the composite message', () => {
    const { publicKey, secretKey } = compositeKeygen();
    const message = enc.encode('Heady signed fields digest');
    const ctx = enc.encode('heady.v1');
    const sig = compositeSign(secretKey, message, ctx);
    const mPrime = compositeMessage(message, ctx);
    expect(
      opensslVerifyEd25519(splitPublicKey(publicKey).ed25519, mPrime, splitSignature(sig).ed25519),
    ).toBe(true);
    expect(
      opensslVerifyEd25519(
        splitPublicKey(publicKey).ed25519,
        compositeMessage(message),
        splitSignature(sig).ed25519,
      ),
    ).toBe(false);
  });

  it('composite: a key pair assembled from liboqs ML-DSA and OpenSSL Ed25519 signs and verifies', () => {
    const pq = oqsDsa.generateKeyPair();
    const ed = opensslEd25519();
    const secretKey = new Uint8Array(MLDSA_SK + 32);
    secretKey.set(pq.secretKey, 0);
    secretKey.set(ed.seed, MLDSA_SK);
    const publicKey = new Uint8Array(pq.publicKey.length + 32);
    publicKey.set(pq.publicKey, 0);
    publicKey.set(ed.publicKey, pq.publicKey.length);

    const message = enc.encode('assembled');
    const sig = compositeSign(secretKey, message);
    expect(compositeVerify(publicKey, message, sig)).toBe(true);

    // OpenSSL's own Ed25519 signature over M' slots into the composite
    const edKey = createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: Buffer.from(ed.seed).toString('base64url'),
        x: Buffer.from(ed.publicKey).toString('base64url'),
      },
      format: 'jwk',
    });
    const opensslSig = sign(null, compositeMessage(message), edKey);
    const mixed = new Uint8Array(sig);
    mixed.set(opensslSig, sig.length - 64);
    expect(compositeVerify(publicKey, message, mixed)).toBe(true);
  });

  it('composite: a valid component cannot carry an invalid one (both must verify)', () => {
    const a = compositeKeygen();
    const b = compositeKeygen();
    const message = enc.encode('strip');
    const sigA = compositeSign(a.secretKey, message);
    const sigB = compositeSign(b.secretKey, message);
    const spliced = new Uint8Array(sigA);
    spliced.set(splitSignature(sigB).ed25519, sigA.length - 64);
    expect(compositeVerify(a.publicKey, message, spliced)).toBe(false);
  });

  it('ML-KEM-768: liboqs encapsulates to a noble key and noble decapsulates, and the reverse', () => {
    const nobleKeys = ml_kem768.keygen();
    const toNoble = oqsKem.encapsulate(nobleKeys.publicKey);
    expect(Buffer.from(ml_kem768.decapsulate(toNoble.ciphertext, nobleKeys.secretKey))).toEqual(
      Buffer.from(toNoble.sharedSecret),
    );

    const oqsKeys = oqsKem.generateKeyPair();
    const toOqs = ml_kem768.encapsulate(oqsKeys.publicKey);
    expect(Buffer.from(oqsKem.decapsulate(toOqs.cipherText, oqsKeys.secretKey))).toEqual(
      Buffer.from(toOqs.sharedSecret),
    );
  });
});
