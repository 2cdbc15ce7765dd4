import { type ConsentRecord, type ConsentScope, rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type DeviceDb, deviceDb } from '../db.js';

interface Row {
  id: string;
  scope: string;
  granted: boolean;
  granted_at: Date | null;
  revoked_at: Date | null;
}

const toRecord = (r: Row): ConsentRecord => ({
  id: r.id,
  scope: r.scope,
  granted: r.granted,
  grantedAt: r.granted_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

/**
 * `consents`: one row per consent period. Granting opens a row (`granted_at`), revoking
 * closes the open one (`revoked_at`, `granted` false); a revocation with nothing open is
 * recorded as a row of its own, so every change is kept.
 */
@Injectable()
export class ConsentsRepository {
  private readonly db: DeviceDb;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.db = deviceDb(db);
  }

  /** The open (granted, not revoked) consent of the scope, if any. */
  async open(orgId: string, userId: string, scope: ConsentScope): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('consents')
      .select('id')
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('scope', '=', scope)
      .where('granted', '=', true)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return r?.id;
  }

  /**
   * Grants (a no-op answering the open row when already granted) or revokes (closing the
   * open row) in one transaction, serialised per user and scope by an advisory lock.
   * `erase` also deletes the tracking events collected under the consents of this scope.
   */
  async change(
    orgId: string,
    userId: string,
    scope: ConsentScope,
    granted: boolean,
    erase: boolean,
  ): Promise<{ consent: ConsentRecord; changed: boolean; erased: number }> {
    return this.db
      .transaction()
      .execute(async (tx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`consent:${userId}:${scope}`}))`.execute(
          tx,
        );
        const open = await tx
          .selectFrom('consents')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('user_id', '=', userId)
          .where('scope', '=', scope)
          .where('granted', '=', true)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        let row: Row;
        let changed = true;
        if (granted && open) {
          row = open;
          changed = false;
        } else if (granted) {
          row = await tx
            .insertInto('consents')
            .values({
              org_id: orgId,
              user_id: userId,
              scope,
              granted: true,
              granted_at: sql`now()`,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        } else if (open) {
          row = await tx
            .updateTable('consents')
            .set({ granted: false, revoked_at: sql`now()` })
            .where('id', '=', open.id)
            .returningAll()
            .executeTakeFirstOrThrow();
        } else {
          row = await tx
            .insertInto('consents')
            .values({
              org_id: orgId,
              user_id: userId,
              scope,
              granted: false,
              revoked_at: sql`now()`,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        }
        let erased = 0;
        if (!granted && erase && scope === 'TRACKING') {
          const d = await tx
            .deleteFrom('tracking_events')
            .where('org_id', '=', orgId)
            .where('user_id', '=', userId)
            .executeTakeFirst();
          erased = Number(d.numDeletedRows);
        }
        return { consent: toRecord(row), changed, erased };
      })
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /** Every consent row of the user, newest first. */
  async history(orgId: string, userId: string): Promise<ConsentRecord[]> {
    const rows = await this.db
      .selectFrom('consents')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .execute()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return rows.map(toRecord);
  }
}
