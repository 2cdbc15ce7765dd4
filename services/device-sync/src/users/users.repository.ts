import { UserNotFoundError, rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads the identity tables' users (owned by the identity migration; read-only here). */
@Injectable()
export class UsersRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /**
   * Throws {@link UserNotFoundError} unless `userId` is a user of organization `orgId`: a
   * user of another organization is answered exactly as one that does not exist.
   */
  async requireInOrg(orgId: string, userId: string): Promise<void> {
    if (!UUID.test(userId)) throw new UserNotFoundError(userId);
    const row = await this.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', userId)
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    if (!row) throw new UserNotFoundError(userId);
  }
}
