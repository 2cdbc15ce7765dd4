import {
  type DeviceProof,
  DeviceProofInvalidError,
  ErrorCode,
  ForbiddenError,
  HeadyError,
  type Role,
} from '@heady/contracts';
import { ProofHeader, bodyDigest } from '@heady/device-client';
import { type FastifyRequest } from 'fastify';
import { principalOf } from '../auth/access.js';

/** The roles whose organization keys may act for any user of the organization (`X-Heady-User`). */
export const ACT_FOR_USER_ROLES: readonly Role[] = ['developer', 'admin'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a user route acts for: the organization, the user, and the API key (for audit). */
export interface Acting {
  orgId: string;
  userId: string;
  actor: string;
}

/**
 * The user a request acts for. A user-bound key acts for its own user (an `X-Heady-User`
 * naming another is 403). An organization key names the user in `X-Heady-User` and needs
 * role developer or admin to do so; device-sync then checks the user is of the key's
 * organization (404 otherwise, exactly as for an unknown user).
 */
export function actingOf(req: FastifyRequest): Acting {
  const p = principalOf(req);
  const raw = req.headers['x-heady-user'];
  const asked = typeof raw === 'string' && raw !== '' ? raw : undefined;
  const actor = `api-key:${p.keyId}`;
  if (p.userId) {
    if (asked && asked !== p.userId)
      throw new ForbiddenError('this API key is bound to a user and acts for that user only', {
        userId: p.userId,
      });
    return { orgId: p.orgId, userId: p.userId, actor };
  }
  if (!asked)
    throw new HeadyError(
      ErrorCode.ValidationFailed,
      'this route acts for a user: send X-Heady-User: <user id> with an organization key, or use a key bound to the user',
      { errors: [{ path: 'header.x-heady-user', message: 'required' }] },
    );
  if (!UUID.test(asked))
    throw new HeadyError(ErrorCode.ValidationFailed, 'X-Heady-User must be a user id (a UUID)', {
      errors: [{ path: 'header.x-heady-user', message: 'not a UUID' }],
    });
  if (!ACT_FOR_USER_ROLES.includes(p.role))
    throw new ForbiddenError(
      `acting for a user (X-Heady-User) needs an organization key of role ${ACT_FOR_USER_ROLES.join(' or ')}; this key is ${p.role}`,
      { role: p.role },
    );
  return { orgId: p.orgId, userId: asked, actor };
}

/**
 * The device's proof of possession carried by the request's `X-Heady-Device*` headers,
 * with what it must cover as this gateway received it: method, path with query, and the
 * SHA-256 of the body's bytes (recorded by the JSON body parser).
 */
export function proofOf(req: FastifyRequest): DeviceProof {
  const h = (name: string): string | undefined => {
    const v = req.headers[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const deviceId = h(ProofHeader.Device);
  const timestamp = h(ProofHeader.Timestamp);
  const nonce = h(ProofHeader.Nonce);
  const signature = h(ProofHeader.Signature);
  if (!deviceId || !timestamp || !nonce || !signature)
    throw new DeviceProofInvalidError(
      'missing',
      `this route needs the device's signature: ${Object.values(ProofHeader).join(', ')}`,
    );
  if (!UUID.test(deviceId) || !/^\d{1,16}$/.test(timestamp))
    throw new DeviceProofInvalidError('missing', 'malformed device proof headers');
  return {
    deviceId,
    timestamp: Number(timestamp),
    nonce,
    signature,
    method: req.method as DeviceProof['method'],
    path: req.url,
    bodyDigest: (req as { bodySha256?: string }).bodySha256 ?? bodyDigest(''),
  };
}
