import { type ApiKeyInfo, ROLE_CLEARANCE, clears, rolesWithin } from '@heady/db';
import { ApiKeyNotFoundError, ForbiddenError, UnauthenticatedError } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { type Caller } from '../auth/access.js';
import { AuthService } from '../auth/auth.service.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { type CreateApiKeyBody } from './api-keys.schema.js';

/** Manages the API keys of the caller's own organization. */
@Injectable()
export class ApiKeysService {
  constructor(
    @Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository,
    @Inject(AuthService) private readonly auth: AuthService,
  ) {}

  private orgOf(caller: Caller): string {
    if (!caller.principal) throw new UnauthenticatedError('an API key is required');
    return caller.principal.orgId;
  }

  /** A key can grant at most its creator's clearance. */
  async create(caller: Caller, body: CreateApiKeyBody): Promise<{ key: string } & ApiKeyInfo> {
    const orgId = this.orgOf(caller);
    const wanted = ROLE_CLEARANCE[body.role];
    if (!clears(caller.clearance, wanted))
      throw new ForbiddenError(
        `a key with clearance ${caller.clearance} cannot create a ${body.role} key (${wanted})`,
        { required: wanted, clearance: caller.clearance },
      );
    const { key, info } = await this.keys.create({ orgId, name: body.name, role: body.role });
    return { key, ...info };
  }

  /** The organization's keys at or below the caller's clearance (a member never sees admin keys). */
  list(caller: Caller): Promise<ApiKeyInfo[]> {
    return this.keys.list(this.orgOf(caller), rolesWithin(caller.clearance));
  }

  /**
   * Revokes a key at or below the caller's clearance; a key above it answers 404 exactly as
   * an unknown one, so a member can neither lock an admin out nor learn its key ids.
   */
  async revoke(caller: Caller, id: string): Promise<void> {
    const orgId = this.orgOf(caller);
    const hash = await this.keys.revoke(id, orgId, rolesWithin(caller.clearance));
    if (!hash) throw new ApiKeyNotFoundError(id);
    // this gateway refuses the key from its next request on; the others hear of it from
    // PostgreSQL's change feed a moment later
    this.auth.forget(hash);
  }
}
