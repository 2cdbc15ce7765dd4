import {
  type ApiKeyInfo,
  type Database,
  type Kysely,
  type Role,
  createApiKey,
  listApiKeys,
  revokeApiKey,
} from '@heady/db';
import { rethrowUnavailable } from '@heady/contracts';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** An organization's API keys in PostgreSQL; an outage is an `UnavailableError`. */
@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  create(input: {
    orgId: string;
    name: string;
    role: Role;
  }): Promise<{ key: string; info: ApiKeyInfo }> {
    return createApiKey(this.db, input).catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }

  /** The organization's keys with one of `roles`. */
  list(orgId: string, roles: readonly Role[]): Promise<ApiKeyInfo[]> {
    return listApiKeys(this.db, { orgId, roles }).catch((e: unknown) =>
      rethrowUnavailable(e, 'postgres'),
    );
  }

  /** The revoked key's hash; undefined when the organization has no such key with one of `roles`. */
  revoke(id: string, orgId: string, roles: readonly Role[]): Promise<string | undefined> {
    return revokeApiKey(this.db, id, orgId, roles).catch((e: unknown) =>
      rethrowUnavailable(e, 'postgres'),
    );
  }
}
