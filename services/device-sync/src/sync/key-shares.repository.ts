import { type KeyShareRecord, rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type DeviceDb, deviceDb } from '../db.js';

/** `device_key_shares`: content keys sealed by one device to another; opaque to the server. */
@Injectable()
export class KeySharesRepository {
  private readonly db: DeviceDb;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.db = deviceDb(db);
  }

  /** Stores each share unless that device already has that key; answers how many were new. */
  async put(
    orgId: string,
    userId: string,
    kid: string,
    from: string,
    shares: { deviceId: string; sealed: string; sig: string }[],
  ): Promise<number> {
    const r = await this.db
      .insertInto('device_key_shares')
      .values(
        shares.map((s) => ({
          org_id: orgId,
          user_id: userId,
          key_id: kid,
          device_id: s.deviceId,
          from_device_id: from,
          sealed: s.sealed,
          signature: s.sig,
        })),
      )
      .onConflict((oc) => oc.columns(['device_id', 'key_id']).doNothing())
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return Number(r.numInsertedOrUpdatedRows ?? 0);
  }

  /** The shares sealed to `deviceId`, oldest first. */
  async forDevice(orgId: string, userId: string, deviceId: string): Promise<KeyShareRecord[]> {
    const rows = await this.db
      .selectFrom('device_key_shares')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('device_id', '=', deviceId)
      .orderBy('created_at')
      .execute()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return rows.map((r) => ({
      kid: r.key_id,
      deviceId: r.device_id,
      fromDevice: r.from_device_id,
      sealed: r.sealed,
      sig: r.signature,
      createdAt: r.created_at.toISOString(),
    }));
  }
}
