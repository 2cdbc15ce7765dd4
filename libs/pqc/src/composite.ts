import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';

/**
 * Composite ML-DSA-65 + Ed25519 in the shape of the IETF LAMPS composite-signature
 * draft: both components sign the same domain-separated message
 * `M' = Prefix ‖ Label ‖ len(ctx) ‖ ctx ‖ SHA-512(M)`, ML-DSA with the label as its
 * FIPS 204 context; a signature is valid only when both verify.
 */
export const COMPOSITE_PREFIX = utf8ToBytes('CompositeAlgorithmSignatures2025');
export const COMPOSITE_LABEL = utf8ToBytes('COMPSIG-MLDSA65-Ed25519-SHA512');

const MLDSA_PK = 1952;
const MLDSA_SK = 4032;
const MLDSA_SIG = 3309;
const ED_PK = 32;
const ED_SK = 32;
const ED_SIG = 64;

export const COMPOSITE_PUBLIC_KEY_BYTES = MLDSA_PK + ED_PK;
export const COMPOSITE_SECRET_KEY_BYTES = MLDSA_SK + ED_SK;
export const COMPOSITE_SIGNATURE_BYTES = MLDSA_SIG + ED_SIG;

/** A composite key pair: `publicKey = mldsaPk ‖ edPk`, `secretKey = mldsaSk ‖ edSk`. */
export interface CompositeKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A fresh composite key pair from the OS's CSPRNG. */
export function compositeKeygen(): CompositeKeyPair {
  const pq = ml_dsa65.keygen();
  const ed = ed25519.keygen();
  return {
    publicKey: concatBytes(pq.publicKey, ed.publicKey),
    secretKey: concatBytes(pq.secretKey, ed.secretKey),
  };
}

/** The message both components sign. */
export function compositeMessage(
  message: Uint8Array,
  ctx: Uint8Array = new Uint8Array(),
): Uint8Array {
  if (ctx.length > 255) throw new Error('composite context longer than 255 bytes');
  return concatBytes(
    COMPOSITE_PREFIX,
    COMPOSITE_LABEL,
    Uint8Array.of(ctx.length),
    ctx,
    sha512(message),
  );
}

/** Signs `message`: `mldsaSig ‖ ed25519Sig` over the composite message. */
export function compositeSign(
  secretKey: Uint8Array,
  message: Uint8Array,
  ctx?: Uint8Array,
): Uint8Array {
  if (secretKey.length !== COMPOSITE_SECRET_KEY_BYTES)
    throw new Error(`composite secret key must be ${COMPOSITE_SECRET_KEY_BYTES} bytes`);
  const m = compositeMessage(message, ctx);
  const pq = ml_dsa65.sign(m, secretKey.subarray(0, MLDSA_SK), { context: COMPOSITE_LABEL });
  const ed = ed25519.sign(m, secretKey.subarray(MLDSA_SK));
  return concatBytes(pq, ed);
}

/** True only when both the ML-DSA-65 and the Ed25519 signature verify; never throws on malformed input. */
export function compositeVerify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  ctx?: Uint8Array,
): boolean {
  if (
    publicKey.length !== COMPOSITE_PUBLIC_KEY_BYTES ||
    signature.length !== COMPOSITE_SIGNATURE_BYTES
  )
    return false;
  try {
    const m = compositeMessage(message, ctx);
    const pqOk = ml_dsa65.verify(
      signature.subarray(0, MLDSA_SIG),
      m,
      publicKey.subarray(0, MLDSA_PK),
      { context: COMPOSITE_LABEL },
    );
    const edOk = ed25519.verify(signature.subarray(MLDSA_SIG), m, publicKey.subarray(MLDSA_PK));
    return pqOk && edOk;
  } catch {
    return false;
  }
}

/** The components of a composite public key (for interop with single-algorithm verifiers). */
export function splitPublicKey(publicKey: Uint8Array): { mldsa: Uint8Array; ed25519: Uint8Array } {
  return { mldsa: publicKey.subarray(0, MLDSA_PK), ed25519: publicKey.subarray(MLDSA_PK) };
}

/** The components of a composite signature. */
export function splitSignature(signature: Uint8Array): { mldsa: Uint8Array; ed25519: Uint8Array } {
  return { mldsa: signature.subarray(0, MLDSA_SIG), ed25519: signature.subarray(MLDSA_SIG) };
}

/** A key id: the first 16 bytes of SHA-512 over the public key, hex. */
export function keyId(publicKey: Uint8Array): string {
  return Buffer.from(sha512(publicKey).subarray(0, 16)).toString('hex');
}
