import {
  type ApiKeyPrincipal,
  type Database,
  type Kysely,
  findActiveApiKey,
  touchApiKey,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** API keys in PostgreSQL, as the access guard reads them. */
@Injectable()
export class AuthRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  findActive(keyHash: string): Promise<ApiKeyPrincipal | undefined> {
    return findActiveApiKey(this.db, keyHash);
  }

  touch(keyId: string): Promise<void> {
    return touchApiKey(this.db, keyId);
  }
}
