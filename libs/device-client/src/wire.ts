import { type DeviceProof, type DevicePublicKey, type SyncEnvelope } from '@heady/contracts';
import { compositeSign, compositeVerify } from '@heady/pqc';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';

// The wire format both ends compute: what a device signs for a request and for a blob, and
// how a blob's hash (the next blob's `prev`) is made. The server verifies with these
// functions and the client signs and checks with them, so they cannot disagree.

/** The request headers carrying a device's proof of possession. */
export const ProofHeader = {
  Device: 'x-heady-device',
  Timestamp: 'x-heady-device-timestamp',
  Nonce: 'x-heady-device-nonce',
  Signature: 'x-heady-device-signature',
} as const;

/** Base64 (standard alphabet, padded). */
export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
/** Bytes of a base64 string. */
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** SHA-256 (hex) of a request body as sent (the empty string for none). */
export function bodyDigest(body: string | Uint8Array = ''): string {
  return bytesToHex(sha256(typeof body === 'string' ? utf8ToBytes(body) : body));
}

/** The bytes a device signs to prove it sent one request. */
export function proofMessage(p: Omit<DeviceProof, 'signature'>): Uint8Array {
  return utf8ToBytes(
    [
      'HEADY-DEVICE-PROOF-V1',
      p.deviceId,
      p.method,
      p.path,
      p.bodyDigest,
      String(p.timestamp),
      p.nonce,
    ].join('\n'),
  );
}

/** The bytes a device signs for a blob: every envelope field but `sig`, bound to the user. */
export function envelopeMessage(userId: string, e: Omit<SyncEnvelope, 'sig'>): Uint8Array {
  return utf8ToBytes(
    JSON.stringify([
      'heady.sync.v1',
      userId,
      e.v,
      e.alg,
      e.kid,
      e.nonce,
      e.ct,
      e.seq,
      e.prev,
      e.device,
    ]),
  );
}

/** A blob's hash: SHA-256 over its signed bytes and its signature (hex). */
export function envelopeHash(userId: string, e: SyncEnvelope): string {
  return bytesToHex(sha256(concatBytes(envelopeMessage(userId, e), unb64(e.sig))));
}

/** The bytes a device signs when it shares content key `kid` to device `to`. */
export function keyShareMessage(
  userId: string,
  kid: string,
  from: string,
  to: string,
  sealed: string,
): Uint8Array {
  return utf8ToBytes(JSON.stringify(['heady.sync.key.v1', userId, kid, from, to, sealed]));
}

/** Signs `message` with a device's secret signing key of algorithm `alg`. */
export function deviceSign(
  alg: DevicePublicKey['alg'],
  secretKey: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  return alg === 'ed25519' ? ed25519.sign(message, secretKey) : compositeSign(secretKey, message);
}

/** True when `signature` over `message` verifies with the device's public key; never throws. */
export function deviceVerify(
  key: DevicePublicKey,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const pk = unb64(key.sign);
    if (key.alg === 'ed25519') return ed25519.verify(signature, message, pk);
    return compositeVerify(pk, message, signature);
  } catch {
    return false;
  }
}

/** The well-formedness of a device's public keys (lengths by algorithm), as a reason or undefined. */
export function publicKeyProblem(key: DevicePublicKey): string | undefined {
  const sign = unb64(key.sign).length;
  const want = key.alg === 'ed25519' ? 32 : 1952 + 32;
  if (sign !== want) return `a ${key.alg} public key is ${want} bytes, not ${sign}`;
  if (unb64(key.kem).length !== 1184 + 32)
    return 'the key-agreement key must be an ML-KEM-768 + X25519 public key (1216 bytes)';
  return undefined;
}
