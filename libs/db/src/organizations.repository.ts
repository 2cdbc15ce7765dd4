import { type Kysely } from 'kysely';
import { type Database, type Plan } from './schema.js';

/** An organization as operators name it. */
export interface OrganizationRef {
  id: string;
  name: string;
  plan: Plan;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds organizations by what an operator types: an id, a name, or an API key's prefix. */
export class OrganizationsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The organization with id `idOrName` (when it is a uuid) or else named `idOrName`. */
  find(idOrName: string): Promise<OrganizationRef | undefined> {
    return this.db
      .selectFrom('organizations')
      .select(['id', 'name', 'plan'])
      .where(UUID.test(idOrName) ? 'id' : 'name', '=', idOrName)
      .executeTakeFirst();
  }

  /** The ids of the organizations owning an API key (revoked or not) whose prefix (`hk_` + 8) is `prefix`. */
  async idsByKeyPrefix(prefix: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select('org_id')
      .distinct()
      .where('prefix', '=', prefix)
      .execute();
    return rows.map((r) => r.org_id);
  }
}
