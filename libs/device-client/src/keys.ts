import { type DevicePublicKey } from '@heady/contracts';
import { compositeKeygen, kemKeygen, openPayload, sealPayload } from '@heady/pqc';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { b64, unb64 } from './wire.js';

/** A device's own keys: one to sign with, one to receive content keys by key agreement. */
export interface DeviceKeys {
  alg: DevicePublicKey['alg'];
  signSecret: Uint8Array;
  signPublic: Uint8Array;
  kemSecret: Uint8Array;
  kemPublic: Uint8Array;
}

/** Fresh device keys: Ed25519 (or composite ML-DSA-65 + Ed25519) and ML-KEM-768 + X25519. */
export function generateDeviceKeys(alg: DevicePublicKey['alg'] = 'ed25519'): DeviceKeys {
  const kem = kemKeygen();
  if (alg === 'ed25519') {
    const k = ed25519.keygen();
    return {
      alg,
      signSecret: k.secretKey,
      signPublic: k.publicKey,
      kemSecret: kem.secretKey,
      kemPublic: kem.publicKey,
    };
  }
  const k = compositeKeygen();
  return {
    alg,
    signSecret: k.secretKey,
    signPublic: k.publicKey,
    kemSecret: kem.secretKey,
    kemPublic: kem.publicKey,
  };
}

/** The public half, as `POST /api/devices` takes it. */
export function publicKeyOf(keys: DeviceKeys): DevicePublicKey {
  return { alg: keys.alg, sign: b64(keys.signPublic), kem: b64(keys.kemPublic) };
}

const keySubject = (userId: string): string => `heady.sync.key.${userId}`;

/** Seals content key `key` (id `kid`) to device `deviceId`'s key-agreement key. */
export function sealContentKey(
  key: Uint8Array,
  kid: string,
  userId: string,
  to: { deviceId: string; kem: string },
): string {
  return b64(
    sealPayload(key, { keyRef: to.deviceId, publicKey: unb64(to.kem) }, keySubject(userId), kid),
  );
}

/** Opens a content key sealed to this device (`deviceId`, its KEM secret). */
export function openContentKey(
  sealed: string,
  kid: string,
  userId: string,
  deviceId: string,
  kemSecret: Uint8Array,
): Uint8Array {
  return openPayload(
    unb64(sealed),
    (ref) => (ref === deviceId ? kemSecret : undefined),
    keySubject(userId),
    kid,
  );
}

/** A new content key and its id. */
export function newContentKey(): { kid: string; key: Uint8Array } {
  return { kid: Buffer.from(randomBytes(12)).toString('base64url'), key: randomBytes(32) };
}

const aad = (userId: string, kid: string): Uint8Array =>
  utf8ToBytes(JSON.stringify(['heady.sync.v1', userId, kid]));

/** XChaCha20-Poly1305 under content key `kid`: a fresh 24-byte nonce and the ciphertext. */
export function encrypt(
  key: Uint8Array,
  kid: string,
  userId: string,
  plaintext: Uint8Array,
): { nonce: string; ct: string } {
  const nonce = randomBytes(24);
  const ct = xchacha20poly1305(key, nonce, aad(userId, kid)).encrypt(plaintext);
  return { nonce: b64(nonce), ct: b64(ct) };
}

/** Opens a blob's ciphertext; throws when the key or the bytes are wrong. */
export function decrypt(
  key: Uint8Array,
  kid: string,
  userId: string,
  nonce: string,
  ct: string,
): Uint8Array {
  return xchacha20poly1305(key, unb64(nonce), aad(userId, kid)).decrypt(unb64(ct));
}
