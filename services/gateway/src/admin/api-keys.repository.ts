import {
  type ApiKeyInfo,
  type Database,
  type Kysely,
  type Role,
  createApiKey,
  listApiKeys,
  revokeApiKey,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  create(input: {
    orgId: string;
    name: string;
    role: Role;
  }): Promise<{ key: string; info: ApiKeyInfo }> {
    return createApiKey(this.db, input);
  }

  list(orgId: string): Promise<ApiKeyInfo[]> {
    return listApiKeys(this.db, { orgId });
  }

  revoke(id: string, orgId: string): Promise<boolean> {
    return revokeApiKey(this.db, id, orgId);
  }
}
