import { rethrowUnavailable } from '@heady/contracts';
import {
  type Database,
  type Kysely,
  OrganizationsRepository,
  type OrganizationRef,
} from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** Organizations as billing reads them (name and plan); an outage is `UnavailableError`. */
@Injectable()
export class BillingOrganizationsRepository {
  private readonly orgs: OrganizationsRepository;

  constructor(@Inject(DB) db: Kysely<Database>) {
    this.orgs = new OrganizationsRepository(db);
  }

  find(orgId: string): Promise<OrganizationRef | undefined> {
    return this.orgs.find(orgId).catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
  }
}
