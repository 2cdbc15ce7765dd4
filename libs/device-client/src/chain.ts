import { type DeviceRecord, GENESIS_HASH, type StoredBlob, type SyncHead } from '@heady/contracts';
import { deviceVerify, envelopeHash, envelopeMessage, unb64 } from './wire.js';

/** What a client found wrong with the log a server showed it. */
export type IntegrityKind =
  'rollback' | 'fork' | 'gap' | 'bad-hash' | 'bad-signature' | 'unknown-device' | 'revoked-device';

/** The server's log contradicts what this client saw or what the devices signed. */
export class SyncIntegrityError extends Error {
  override readonly name = 'SyncIntegrityError';
  constructor(
    readonly kind: IntegrityKind,
    message: string,
  ) {
    super(message);
  }
}

/** True for a {@link SyncIntegrityError}. */
export function isSyncIntegrityError(e: unknown): e is SyncIntegrityError {
  return e instanceof SyncIntegrityError;
}

/**
 * Checks a page of the log against the head this client already trusts (`known`) and the
 * head the server claims, and returns the new trusted head. Detects:
 * - rollback: the server's head is behind what this client has seen;
 * - fork: the page does not continue from the known head (another history), or the server
 *   claims the known sequence with another hash;
 * - gap: a sequence number is skipped (dropped entries);
 * - bad-hash / bad-signature: a blob was altered, or not signed by the device it names;
 * - unknown-device / revoked-device: signed by no device of the user, or by one after its
 *   revocation (`revokedAfterSeq`).
 */
export function verifyPage(
  userId: string,
  known: SyncHead,
  page: { blobs: StoredBlob[]; head: SyncHead },
  devices: readonly DeviceRecord[],
  checkSignatures = true,
): SyncHead {
  if (page.head.seq < known.seq)
    throw new SyncIntegrityError(
      'rollback',
      `the server's head is ${page.head.seq}, behind ${known.seq} already seen`,
    );
  if (page.head.seq === known.seq && page.head.hash !== known.hash)
    throw new SyncIntegrityError(
      'fork',
      `the server shows blob ${known.seq} with another hash than the one already seen`,
    );
  const byId = new Map(devices.map((d) => [d.id, d]));
  let head = known;
  for (const b of page.blobs) {
    if (b.seq !== head.seq + 1)
      throw new SyncIntegrityError('gap', `blob ${b.seq} follows ${head.seq}: entries are missing`);
    if (b.prev !== head.hash)
      throw new SyncIntegrityError(
        'fork',
        `blob ${b.seq} does not continue from ${head.seq === 0 ? 'the genesis' : `blob ${head.seq}`}`,
      );
    const { hash, createdAt: _createdAt, ...envelope } = b;
    if (envelopeHash(userId, envelope) !== hash)
      throw new SyncIntegrityError('bad-hash', `blob ${b.seq}'s hash does not match its content`);
    const device = byId.get(b.device);
    if (!device)
      throw new SyncIntegrityError('unknown-device', `blob ${b.seq} names an unknown device`);
    if (device.revokedAfterSeq !== null && b.seq > device.revokedAfterSeq)
      throw new SyncIntegrityError(
        'revoked-device',
        `blob ${b.seq} was signed by device ${device.id} after its revocation`,
      );
    if (checkSignatures) {
      const { sig, ...signed } = envelope;
      if (!deviceVerify(device.publicKey, envelopeMessage(userId, signed), unb64(sig)))
        throw new SyncIntegrityError(
          'bad-signature',
          `blob ${b.seq} is not signed by ${device.id}`,
        );
    }
    head = { seq: b.seq, hash };
  }
  // a page that reaches the claimed head must end exactly on it
  if (head.seq === page.head.seq && head.hash !== page.head.hash)
    throw new SyncIntegrityError('fork', `the server's head does not match its last blob`);
  if (head.seq > page.head.seq)
    throw new SyncIntegrityError('fork', `the server's head is behind the blobs it returned`);
  return head;
}

/** The head of an empty log. */
export const EMPTY_HEAD: SyncHead = { seq: 0, hash: GENESIS_HASH };
