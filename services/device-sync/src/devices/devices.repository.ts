import { type DevicePublicKey, type DeviceRecord, rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type DeviceDb, type DevicesTable, deviceDb } from '../db.js';
import { type Selectable } from 'kysely';

const toRecord = (r: Selectable<DevicesTable>): DeviceRecord => ({
  id: r.id,
  name: r.device_name ?? '',
  publicKey: JSON.parse(r.device_public_key) as DevicePublicKey,
  createdAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
  revokedAfterSeq: r.revoked_after_seq === null ? null : Number(r.revoked_after_seq),
});

/** `devices`, and the nonces of their signed requests (`device_request_nonces`). */
@Injectable()
export class DevicesRepository {
  private readonly db: DeviceDb;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.db = deviceDb(db);
  }

  private fail(e: unknown): never {
    return rethrowUnavailable(e, 'postgres');
  }

  async insert(d: {
    orgId: string;
    userId: string;
    name: string;
    publicKey: DevicePublicKey;
  }): Promise<DeviceRecord> {
    const r = await this.db
      .insertInto('devices')
      .values({
        org_id: d.orgId,
        user_id: d.userId,
        device_name: d.name,
        device_public_key: JSON.stringify(d.publicKey),
      })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch((e: unknown) => this.fail(e));
    return toRecord(r);
  }

  async list(orgId: string, userId: string): Promise<DeviceRecord[]> {
    const rows = await this.db
      .selectFrom('devices')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute()
      .catch((e: unknown) => this.fail(e));
    return rows.map(toRecord);
  }

  /** The user's device `id` (revoked or not), or undefined. */
  async find(orgId: string, userId: string, id: string): Promise<DeviceRecord | undefined> {
    const r = await this.db
      .selectFrom('devices')
      .selectAll()
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst()
      .catch((e: unknown) => this.fail(e));
    return r && toRecord(r);
  }

  /**
   * Revokes the device (idempotent: a second revocation keeps the first's time and head),
   * recording the user's sync-log head at that moment.
   */
  async revoke(orgId: string, userId: string, id: string): Promise<DeviceRecord | undefined> {
    const r = await this.db
      .updateTable('devices')
      .set({
        revoked_at: sql`coalesce(revoked_at, now())`,
        revoked_after_seq: sql`coalesce(revoked_after_seq, (
          SELECT coalesce(max(seq), 0) FROM device_sync_blobs b
          WHERE b.org_id = ${orgId} AND b.user_id = ${userId}))`,
      })
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst()
      .catch((e: unknown) => this.fail(e));
    return r && toRecord(r);
  }

  /** Records the nonce of a device's request; false when it was already seen (a replay). */
  async useNonce(deviceId: string, nonce: string): Promise<boolean> {
    const r = await this.db
      .insertInto('device_request_nonces')
      .values({ device_id: deviceId, nonce })
      .onConflict((oc) => oc.columns(['device_id', 'nonce']).doNothing())
      .executeTakeFirst()
      .catch((e: unknown) => this.fail(e));
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Forgets nonces older than `ms` (their requests are refused as stale anyway) and marks the device seen. */
  async seen(deviceId: string): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ last_seen_at: sql`now()` })
      .where('id', '=', deviceId)
      .where((eb) =>
        eb.or([
          eb('last_seen_at', 'is', null),
          eb('last_seen_at', '<', sql<Date>`now() - interval '1 minute'`),
        ]),
      )
      .execute()
      .catch((e: unknown) => this.fail(e));
  }

  /** Deletes nonces seen more than `ms` ago (requests that old are refused as stale). */
  async pruneNonces(ms: number): Promise<number> {
    const r = await this.db
      .deleteFrom('device_request_nonces')
      .where('seen_at', '<', sql<Date>`now() - make_interval(secs => ${ms / 1000})`)
      .executeTakeFirst()
      .catch((e: unknown) => this.fail(e));
    return Number(r.numDeletedRows);
  }
}
