import {
  type ApiKeyPrincipal,
  type Database,
  type Kysely,
  findActiveApiKey,
  touchApiKey,
} from '@heady/db';
import { rethrowUnavailable } from '@heady/contracts';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** API keys in PostgreSQL, as the access guard reads them; an outage is an `UnavailableError`. */
@Injectable()
export class AuthRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  findActive(keyHash: string): Promise<ApiKeyPrincipal | undefined> {
    return findActiveApiKey(this.db, keyHash).catch((e: unknown) =>
      rethrowUnavailable(e, 'postgres'),
    );
  }

  touch(keyId: string): Promise<void> {
    return touchApiKey(this.db, keyId).catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }
}
