import { type Database, type Kysely, type Plan, applyPlanChange } from '@heady/db';
import { rethrowUnavailable } from '@heady/contracts';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** Organizations' plans in PostgreSQL, where they live; an outage is an `UnavailableError`. */
@Injectable()
export class PlansRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Applies a plan change unless a later one is recorded; undefined for an unknown organization. */
  apply(
    orgId: string,
    plan: Plan,
    changedAt: Date,
  ): Promise<{ plan: Plan; applied: boolean } | undefined> {
    return applyPlanChange(this.db, orgId, plan, changedAt).catch((e: unknown) =>
      rethrowUnavailable(e, 'postgres'),
    );
  }
}
