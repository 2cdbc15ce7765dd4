import {
  GENESIS_HASH,
  type StoredBlob,
  type SyncEnvelope,
  type SyncHead,
  rethrowUnavailable,
} from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type Selectable } from 'kysely';
import { type DeviceDb, type DeviceSyncBlobsTable, deviceDb } from '../db.js';

const toBlob = (r: Selectable<DeviceSyncBlobsTable>): StoredBlob => ({
  v: r.version as 1,
  alg: r.algorithm as 'xchacha20poly1305',
  kid: r.key_id,
  nonce: r.nonce,
  ct: r.cipher_text,
  seq: Number(r.seq),
  prev: r.prev_hash,
  device: r.device_id,
  sig: r.signature,
  hash: r.hash,
  createdAt: r.created_at.toISOString(),
});

/** `device_sync_blobs`: each user's sync log, a hash chain of opaque envelopes. */
@Injectable()
export class BlobsRepository {
  private readonly db: DeviceDb;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.db = deviceDb(db);
  }

  /**
   * Appends the blob if and only if it continues the log: seq 1 after the genesis hash on
   * an empty log, or seq n+1 naming blob n's hash. The check and the insert are one
   * statement, and `(org, user, seq)` is unique, so of two writers racing for the same
   * head exactly one wins. Answers false when the blob does not continue the head.
   */
  async append(orgId: string, userId: string, e: SyncEnvelope, hash: string): Promise<boolean> {
    try {
      const r = await sql<{ id: string }>`
        INSERT INTO device_sync_blobs (org_id, user_id, device_id, seq, prev_hash, hash, version,
          algorithm, key_id, nonce, cipher_text, signature)
        SELECT ${orgId}, ${userId}, ${e.device}, ${e.seq}, ${e.prev}, ${hash}, ${e.v}, ${e.alg},
          ${e.kid}, ${e.nonce}, ${e.ct}, ${e.sig}
        WHERE CASE WHEN ${e.seq}::bigint = 1
          THEN ${e.prev} = ${GENESIS_HASH} AND NOT EXISTS (
            SELECT 1 FROM device_sync_blobs WHERE org_id = ${orgId} AND user_id = ${userId})
          ELSE EXISTS (
            SELECT 1 FROM device_sync_blobs WHERE org_id = ${orgId} AND user_id = ${userId}
              AND seq = ${e.seq}::bigint - 1 AND hash = ${e.prev})
          END
        ON CONFLICT (org_id, user_id, seq) DO NOTHING
        RETURNING id`.execute(this.db);
      return r.rows.length === 1;
    } catch (err) {
      return rethrowUnavailable(err, 'postgres');
    }
  }

  /** The log's head: its last blob's seq and hash, or seq 0 and the genesis hash. */
  async head(orgId: string, userId: string): Promise<SyncHead> {
    const r = await this.db
      .selectFrom('device_sync_blobs')
      .select(['seq', 'hash'])
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return r ? { seq: Number(r.seq), hash: r.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /** Up to `limit` blobs after `after`, in order. */
  async after(orgId: string, userId: string, after: number, limit: number): Promise<StoredBlob[]> {
    const rows = await this.db
      .selectFrom('device_sync_blobs')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('seq', '>', String(after))
      .orderBy('seq')
      .limit(limit)
      .execute()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return rows.map(toBlob);
  }
}
