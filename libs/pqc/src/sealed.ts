import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';

/**
 * RESTRICTED payloads are sealed to the recipient service's epoch KEM key: a hybrid
 * ML-KEM-768 + X25519 encapsulation (secure while either holds) gives a shared secret,
 * HKDF-SHA-256 turns it into an XChaCha20-Poly1305 key, and the body is encrypted with
 * the subject, message id and key reference as associated data — so a sealed payload
 * cannot be moved to another subject or message. The signature is computed over the
 * sealed bytes (encrypt, then sign).
 *
 * Envelope: `"HSE1" ‖ len(keyRef) ‖ keyRef ‖ kemCiphertext ‖ nonce(24) ‖ ciphertext`.
 */
export const SEALED_ALGORITHM = 'ML-KEM-768+X25519/HKDF-SHA256/XChaCha20-Poly1305';

const MAGIC = utf8ToBytes('HSE1');
const KEM_CT = 1088 + 32;
const NONCE = 24;
const INFO = utf8ToBytes('heady.v1.sealed-payload');

/** Why a sealed payload could not be opened. */
export class SealedError extends Error {
  constructor(
    readonly reason: 'malformed' | 'key-gone' | 'bad-ciphertext',
    message: string,
  ) {
    super(message);
    this.name = 'SealedError';
  }
}

/** A hybrid KEM key pair (ML-KEM-768 + X25519). */
export function kemKeygen(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return ml_kem768_x25519.keygen();
}

function aadOf(keyRef: string, subject: string, msgId: string): Uint8Array {
  return utf8ToBytes(JSON.stringify([keyRef, subject, msgId]));
}

function keyFrom(shared: Uint8Array, keyRef: string): Uint8Array {
  return hkdf(sha256, shared, undefined, concatBytes(INFO, utf8ToBytes(keyRef)), 32);
}

/** Seals `plaintext` to the KEM public key named `keyRef`, bound to `subject` and `msgId`. */
export function sealPayload(
  plaintext: Uint8Array,
  recipient: { keyRef: string; publicKey: Uint8Array },
  subject: string,
  msgId: string,
): Uint8Array {
  const ref = utf8ToBytes(recipient.keyRef);
  if (ref.length > 255) throw new Error('key reference longer than 255 bytes');
  const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(recipient.publicKey);
  const nonce = randomBytes(NONCE);
  const body = xchacha20poly1305(
    keyFrom(sharedSecret, recipient.keyRef),
    nonce,
    aadOf(recipient.keyRef, subject, msgId),
  ).encrypt(plaintext);
  return concatBytes(MAGIC, Uint8Array.of(ref.length), ref, cipherText, nonce, body);
}

/** The key reference a sealed envelope names, or undefined when it is not an envelope. */
export function sealedKeyRef(envelope: Uint8Array): string | undefined {
  if (envelope.length < 5 || !MAGIC.every((b, i) => envelope[i] === b)) return undefined;
  const n = envelope[4] ?? 0;
  if (envelope.length < 5 + n + KEM_CT + NONCE + 16) return undefined;
  return new TextDecoder().decode(envelope.subarray(5, 5 + n));
}

/**
 * Opens an envelope with the secret `secretFor` returns for its key reference.
 * @throws SealedError: `malformed`, `key-gone` (the epoch secret was deleted — forward
 * secrecy), or `bad-ciphertext` (tampered, or bound to another subject or message).
 */
export function openPayload(
  envelope: Uint8Array,
  secretFor: (keyRef: string) => Uint8Array | undefined,
  subject: string,
  msgId: string,
): Uint8Array {
  const keyRef = sealedKeyRef(envelope);
  if (keyRef === undefined) throw new SealedError('malformed', 'not a sealed payload');
  const secret = secretFor(keyRef);
  if (!secret)
    throw new SealedError('key-gone', `the secret of KEM key ${keyRef} is not held here`);
  let o = 5 + utf8ToBytes(keyRef).length;
  const kemCt = envelope.subarray(o, (o += KEM_CT));
  const nonce = envelope.subarray(o, (o += NONCE));
  try {
    const shared = ml_kem768_x25519.decapsulate(kemCt, secret);
    return xchacha20poly1305(keyFrom(shared, keyRef), nonce, aadOf(keyRef, subject, msgId)).decrypt(
      envelope.subarray(o),
    );
  } catch (e) {
    throw new SealedError(
      'bad-ciphertext',
      `sealed payload does not open: ${(e as Error).message}`,
    );
  }
}
