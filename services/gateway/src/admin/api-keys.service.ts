import { type ApiKeyInfo, ROLE_CLEARANCE, clears } from '@heady/db';
import { ApiKeyNotFoundError, ForbiddenError, UnauthenticatedError } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { type Caller } from '../auth/access.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { type CreateApiKeyBody } from './api-keys.schema.js';

/** Manages the API keys of the caller's own organization. */
@Injectable()
export class ApiKeysService {
  constructor(@Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository) {}

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

  list(caller: Caller): Promise<ApiKeyInfo[]> {
    return this.keys.list(this.orgOf(caller));
  }

  async revoke(caller: Caller, id: string): Promise<void> {
    if (!(await this.keys.revoke(id, this.orgOf(caller)))) throw new ApiKeyNotFoundError(id);
  }
}
