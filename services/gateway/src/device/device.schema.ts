import { DEVICE_SIGNING_ALGORITHMS } from '@heady/contracts';
import { z } from 'zod';

// What the device routes answer, for the OpenAPI document and for reading device-sync's
// replies (so the document and the answers cannot drift apart).

const consentRecord = z.object({
  id: z.string(),
  scope: z.string(),
  granted: z.boolean(),
  grantedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export const consentsReply = z.object({
  current: z.record(z.string(), z.boolean()),
  history: z.array(consentRecord),
});
export const putConsentReply = z.object({ consent: consentRecord, erased: z.number().int() });
export const trackingReply = z.object({ id: z.string(), kept: z.array(z.string()) });

export const deviceRecord = z.object({
  id: z.string(),
  name: z.string(),
  publicKey: z.object({
    alg: z.enum(DEVICE_SIGNING_ALGORITHMS),
    sign: z.string(),
    kem: z.string(),
  }),
  createdAt: z.string(),
  lastSeenAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedAfterSeq: z.number().int().nullable(),
});
export const devicesReply = z.object({ devices: z.array(deviceRecord) });

const head = z.object({ seq: z.number().int(), hash: z.string() });
export const pushReply = z.object({ head });
const storedBlob = z.object({
  v: z.literal(1),
  alg: z.literal('xchacha20poly1305'),
  kid: z.string(),
  nonce: z.string(),
  ct: z.string(),
  seq: z.number().int(),
  prev: z.string(),
  device: z.string(),
  sig: z.string(),
  hash: z.string(),
  createdAt: z.string(),
});
export const blobsReply = z.object({ blobs: z.array(storedBlob), head });
export const keySharesStored = z.object({ stored: z.number().int() });
export const keySharesReply = z.object({
  shares: z.array(
    z.object({
      kid: z.string(),
      deviceId: z.string(),
      fromDevice: z.string(),
      sealed: z.string(),
      sig: z.string(),
      createdAt: z.string(),
    }),
  ),
});
