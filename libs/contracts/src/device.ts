import { z } from 'zod';
import { CONSENT_SCOPES } from './vocabulary.js';

// The requests of device-sync's RPCs (`device.*`), one schema each. The gateway checks a REST
// body against the `*Body` schemas at the door and adds who is asking (organization, user,
// and for a device's request its proof of possession); device-sync checks the whole request
// again. The cryptography of the envelope and the proof lives in `libs/device-client`,
// which both ends use.

const uuid = z.string().uuid();
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');

/** A consent scope (`TRACKING`, `DEVICE_SYNC`, `VOICE`). */
export const consentScope = z.enum(CONSENT_SCOPES);

/** Who is asking: the caller's organization, the user it acts for, and the API key (for audit). */
const actor = { orgId: uuid, userId: uuid, actor: z.string().min(1).max(200) };

/** `PUT /api/consents/:scope`: grant or revoke; `erase` also deletes what was collected under it. */
export const putConsentBody = z
  .object({ granted: z.boolean(), erase: z.boolean().optional() })
  .strict();
export const putConsentRequest = z
  .object({ ...actor, scope: consentScope })
  .extend(putConsentBody.shape);

/** A consent period: granted at `grantedAt`, revoked at `revokedAt` (null while it holds). */
export interface ConsentRecord {
  id: string;
  scope: string;
  granted: boolean;
  grantedAt: string | null;
  revokedAt: string | null;
}
export interface ConsentsReply {
  /** The state of each scope (false when never granted). */
  current: Record<string, boolean>;
  /** Every change, newest first. */
  history: ConsentRecord[];
}
export interface PutConsentReply {
  consent: ConsentRecord;
  /** Tracking events deleted because `erase` was asked. */
  erased: number;
}

export const listConsentsRequest = z.object(actor);

/** A tracking property's value: scalars only (nested objects are refused). */
const trackingValue = z.union([z.string().max(500), z.number().finite(), z.boolean(), z.null()]);

/** `POST /api/tracking`: an event name and its properties (kept only when allow-listed). */
export const trackingBody = z
  .object({
    event: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only'),
    properties: z.record(z.string().max(100), trackingValue).default({}),
  })
  .strict();
export const recordTrackingRequest = z.object(actor).extend(trackingBody.shape);
export interface TrackingReply {
  id: string;
  /** The property names that were kept (the allow-list's). */
  kept: string[];
}

/** The signing algorithms a device may register. */
export const DEVICE_SIGNING_ALGORITHMS = ['ed25519', 'mldsa65-ed25519'] as const;

/** A device's public keys: `sign` (Ed25519 or composite ML-DSA-65 + Ed25519), `kem` (ML-KEM-768 + X25519). */
export const devicePublicKey = z
  .object({
    alg: z.enum(DEVICE_SIGNING_ALGORITHMS),
    sign: b64.max(4000),
    kem: b64.max(2000),
  })
  .strict();
export type DevicePublicKey = z.infer<typeof devicePublicKey>;

/** `POST /api/devices`. */
export const registerDeviceBody = z
  .object({ name: z.string().min(1).max(100), publicKey: devicePublicKey })
  .strict();
export const registerDeviceRequest = z.object(actor).extend(registerDeviceBody.shape);

/** A device as listed. `revokedAfterSeq`: the log's head when it was revoked (its blobs after it are forged). */
export interface DeviceRecord {
  id: string;
  name: string;
  publicKey: DevicePublicKey;
  createdAt: string;
  lastSeenAt: string | null;
  revokedAt: string | null;
  revokedAfterSeq: number | null;
}

export const listDevicesRequest = z.object(actor);
export const revokeDeviceRequest = z.object({ ...actor, deviceId: uuid });

/**
 * A device's proof of possession of its signing key over one HTTP request: its signature
 * over method, path (with query), the SHA-256 of the body, a timestamp and a nonce.
 */
export const deviceProof = z
  .object({
    deviceId: uuid,
    timestamp: z.number().int().min(0),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
    signature: b64.max(6000),
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
    path: z.string().min(1).max(2048),
    bodyDigest: hex64,
  })
  .strict();
export type DeviceProof = z.infer<typeof deviceProof>;

/** The envelope algorithms the server stores; anything else is refused. */
export const SYNC_ALGORITHMS = ['xchacha20poly1305'] as const;
/** The envelope format version. */
export const SYNC_ENVELOPE_VERSION = 1 as const;
/** The `prev` of a log's first blob. */
export const GENESIS_HASH = '0'.repeat(64);
/** Largest ciphertext (base64 characters) a blob may carry. */
export const MAX_SYNC_CIPHERTEXT = 700_000;

/** An end-to-end encrypted sync blob as a device writes it (`POST /api/device-sync`). */
export const syncEnvelope = z
  .object({
    v: z.literal(SYNC_ENVELOPE_VERSION),
    alg: z.enum(SYNC_ALGORITHMS),
    kid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    nonce: b64.length(32),
    ct: b64.min(24).max(MAX_SYNC_CIPHERTEXT),
    seq: z.number().int().min(1),
    prev: hex64,
    device: uuid,
    sig: b64.max(6000),
  })
  .strict();
export type SyncEnvelope = z.infer<typeof syncEnvelope>;

/** A stored blob: its envelope, its hash (the next blob's `prev`) and when it was stored. */
export type StoredBlob = SyncEnvelope & { hash: string; createdAt: string };
/** A log's head: `seq` 0 and {@link GENESIS_HASH} when empty. */
export interface SyncHead {
  seq: number;
  hash: string;
}

const proved = { ...actor, proof: deviceProof };

export const pushBlobRequest = z.object({ ...proved, envelope: z.unknown() });
export interface PushBlobReply {
  head: SyncHead;
}

export const listBlobsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export const listBlobsRequest = z.object(proved).extend(listBlobsQuery.shape);
export interface ListBlobsReply {
  blobs: StoredBlob[];
  head: SyncHead;
}

/** A content key sealed to one device by another (signed by the sharer). */
export const keyShare = z
  .object({ deviceId: uuid, sealed: b64.max(8000), sig: b64.max(6000) })
  .strict();
/** `POST /api/device-sync/keys`: content key `kid` sealed to each of the user's devices. */
export const keySharesBody = z
  .object({
    kid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    shares: z.array(keyShare).min(1).max(100),
  })
  .strict();
export const putKeySharesRequest = z.object(proved).extend(keySharesBody.shape);
export const listKeySharesRequest = z.object(proved);
export interface KeyShareRecord {
  kid: string;
  deviceId: string;
  fromDevice: string;
  sealed: string;
  sig: string;
  createdAt: string;
}
export interface KeySharesReply {
  shares: KeyShareRecord[];
}
