import canonicalizeCjs from 'canonicalize';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

// canonicalize is CommonJS (`module.exports = fn`) but its types declare a default export
const canonicalize = canonicalizeCjs as unknown as (input: unknown) => string | undefined;

/** SHA-256 of the body in canonical JSON (RFC 8785): key order and spacing do not matter. */
export function fingerprint(body: unknown): string {
  return createHash('sha256')
    .update(canonicalize(body ?? null) ?? '')
    .digest('base64url');
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

/**
 * The key a stored response is sealed under: derived from the caller's API key and the
 * Idempotency-Key, neither of which is stored, so what Redis holds (an API key created by
 * POST /api/admin/api-keys, say) is readable only by the caller that sent the request.
 */
function sealKey(apiKey: string, idempotencyKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', apiKey, idempotencyKey, 'heady idempotent response', 32));
}

/** AES-256-GCM of the JSON of `value`: iv ‖ tag ‖ ciphertext, base64url. */
export function seal(value: unknown, apiKey: string, idempotencyKey: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', sealKey(apiKey, idempotencyKey), iv);
  const body = Buffer.concat([c.update(JSON.stringify(value ?? null), 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
}

/** The value {@link seal} sealed; throws when the keys differ or the bytes were altered. */
export function unseal(sealed: string, apiKey: string, idempotencyKey: string): unknown {
  const b = Buffer.from(sealed, 'base64url');
  const d = createDecipheriv('aes-256-gcm', sealKey(apiKey, idempotencyKey), b.subarray(0, 12));
  d.setAuthTag(b.subarray(12, 28));
  return JSON.parse(Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8'));
}
