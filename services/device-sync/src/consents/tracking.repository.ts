import { rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type DeviceDb, deviceDb } from '../db.js';

/** `tracking_events`: consented events, already minimised by the service. */
@Injectable()
export class TrackingRepository {
  private readonly db: DeviceDb;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.db = deviceDb(db);
  }

  /**
   * Stores the event only while consent `consentId` is still open: the check and the
   * insert are one statement, so an event racing a revocation is not kept after it.
   * Answers the event's id, or undefined when the consent was revoked meanwhile.
   */
  async insertUnderConsent(e: {
    orgId: string;
    userId: string;
    consentId: string;
    event: string;
    properties: Record<string, unknown>;
  }): Promise<string | undefined> {
    const r = await sql<{ id: string }>`
      INSERT INTO tracking_events (org_id, user_id, consent_id, event, properties)
      SELECT ${e.orgId}, ${e.userId}, c.id, ${e.event}, ${JSON.stringify(e.properties)}::jsonb
      FROM consents c
      WHERE c.id = ${e.consentId} AND c.granted AND c.revoked_at IS NULL
      RETURNING id`
      .execute(this.db)
      .catch((err: unknown) => rethrowUnavailable(err, 'postgres'));
    return r.rows[0]?.id;
  }
}
