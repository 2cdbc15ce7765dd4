import { SERVICE_NAMES, publishableBy, recipients, subjectPermitted } from '@heady/contracts';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { compositeSign, compositeVerify, keyId } from './composite.js';

/** A key's certificate: who holds it, what it may publish, for how long, and who vouches for it. */
export interface Certificate {
  v: 1;
  /**
   * identity: a service, signed by the root; epoch: one running instance's signing key,
   * signed by its identity; operator: replays, signed by the root; kem: a service's epoch
   * KEM key (ML-KEM-768 + X25519) for sealing RESTRICTED payloads, signed by its identity.
   */
  kind: 'identity' | 'epoch' | 'operator' | 'kem';
  kid: string;
  service: string;
  instance: string;
  /** base64 composite public key */
  publicKey: string;
  /** Subjects the holder may publish (NATS wildcards); an epoch key inherits its identity's. */
  subjects: string[];
  issuer: string;
  notBefore: number;
  notAfter: number;
  /** base64 composite signature by the issuer over every other field */
  signature: string;
}

/** A signed statement that a key must no longer be trusted. */
export interface Revocation {
  v: 1;
  kid: string;
  reason: string;
  revokedAt: number;
  issuer: string;
  signature: string;
}

const CERT_CTX = utf8ToBytes('heady.v1.certificate');
const REVOCATION_CTX = utf8ToBytes('heady.v1.revocation');

export const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

function certBytes(c: Omit<Certificate, 'signature'>): Uint8Array {
  // an array in fixed order: one encoding per certificate
  return utf8ToBytes(
    JSON.stringify([
      c.v,
      c.kind,
      c.kid,
      c.service,
      c.instance,
      c.publicKey,
      c.subjects,
      c.issuer,
      c.notBefore,
      c.notAfter,
    ]),
  );
}

/** Issues a certificate for `publicKey`, signed with the issuer's composite secret key. */
export function issueCertificate(
  issuer: { kid: string; secretKey: Uint8Array },
  body: {
    kind: Certificate['kind'];
    service: string;
    instance?: string;
    publicKey: Uint8Array;
    subjects: string[];
    notBefore: number;
    notAfter: number;
  },
): Certificate {
  const unsigned = {
    v: 1 as const,
    kind: body.kind,
    kid: keyId(body.publicKey),
    service: body.service,
    instance: body.instance ?? '',
    publicKey: b64(body.publicKey),
    subjects: [...body.subjects],
    issuer: issuer.kid,
    notBefore: body.notBefore,
    notAfter: body.notAfter,
  };
  return {
    ...unsigned,
    signature: b64(compositeSign(issuer.secretKey, certBytes(unsigned), CERT_CTX)),
  };
}

/** True when `cert` is signed by `issuerPublicKey`, names that issuer, and its kid matches its key. */
export function verifyCertificate(cert: Certificate, issuerPublicKey: Uint8Array): boolean {
  if (cert.v !== 1 || cert.issuer !== keyId(issuerPublicKey)) return false;
  const pk = unb64(cert.publicKey);
  if (keyId(pk) !== cert.kid) return false;
  const { signature, ...unsigned } = cert;
  return compositeVerify(issuerPublicKey, certBytes(unsigned), unb64(signature), CERT_CTX);
}

function revocationBytes(r: Omit<Revocation, 'signature'>): Uint8Array {
  return utf8ToBytes(JSON.stringify([r.v, r.kid, r.reason, r.revokedAt, r.issuer]));
}

/** A revocation of `kid`, signed by the root. */
export function revoke(
  root: { kid: string; secretKey: Uint8Array },
  kid: string,
  reason: string,
  at = Date.now(),
): Revocation {
  const unsigned = { v: 1 as const, kid, reason, revokedAt: at, issuer: root.kid };
  return {
    ...unsigned,
    signature: b64(compositeSign(root.secretKey, revocationBytes(unsigned), REVOCATION_CTX)),
  };
}

/** True when the revocation is signed by the root (an unsigned "revocation" is ignored, never trusted). */
export function verifyRevocation(r: Revocation, rootPublicKey: Uint8Array): boolean {
  if (r.v !== 1 || r.issuer !== keyId(rootPublicKey)) return false;
  const { signature, ...unsigned } = r;
  return compositeVerify(
    rootPublicKey,
    revocationBytes(unsigned),
    unb64(signature),
    REVOCATION_CTX,
  );
}

/** A root-signed request that running instances rotate their epoch keys now (`heady keys rotate`). */
export interface RotationRequest {
  v: 1;
  /** The service whose instances rotate, or `all`. */
  service: string;
  requestedAt: number;
  issuer: string;
  signature: string;
}

const ROTATION_CTX = utf8ToBytes('heady.v1.rotation-request');

function rotationBytes(r: Omit<RotationRequest, 'signature'>): Uint8Array {
  return utf8ToBytes(JSON.stringify([r.v, r.service, r.requestedAt, r.issuer]));
}

/** A rotation request for `service` (or `all`), signed by the root. */
export function rotationRequest(
  root: { kid: string; secretKey: Uint8Array },
  service: string,
  at = Date.now(),
): RotationRequest {
  const unsigned = { v: 1 as const, service, requestedAt: at, issuer: root.kid };
  return {
    ...unsigned,
    signature: b64(compositeSign(root.secretKey, rotationBytes(unsigned), ROTATION_CTX)),
  };
}

/** True when the request is signed by the root: nobody else can make instances rotate. */
export function verifyRotationRequest(r: RotationRequest, rootPublicKey: Uint8Array): boolean {
  if (r.v !== 1 || r.issuer !== keyId(rootPublicKey)) return false;
  const { signature, ...unsigned } = r;
  return compositeVerify(rootPublicKey, rotationBytes(unsigned), unb64(signature), ROTATION_CTX);
}

export { subjectPermitted };

/**
 * What each service may publish by default (`heady keys issue <service>` uses these):
 * derived from the bus catalog of `libs/contracts`; the operator may publish anything.
 */
export const DEFAULT_SUBJECTS: Record<string, string[]> = {
  ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, publishableBy(s)])),
  operator: ['>'],
};

/** Which service a RESTRICTED payload on a subject is sealed to (the service consuming it), from the catalog. */
export const DEFAULT_RECIPIENTS: Record<string, string> = recipients();

/** The recipient service of `subject` under `recipients` (first matching pattern). */
export function recipientOf(
  subject: string,
  recipients: Record<string, string> = DEFAULT_RECIPIENTS,
): string | undefined {
  for (const [pattern, service] of Object.entries(recipients))
    if (subjectPermitted([pattern], subject)) return service;
  return undefined;
}
