import { rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** An organization's Stripe customer as `billing_customers` holds it. */
export interface CustomerRow {
  stripeCustomerId: string;
  /** Set once Stripe deleted it (`customer.deleted`): the next checkout creates another. */
  deletedAt: Date | null;
}

/** `billing_customers`: one Stripe customer per organization; an outage is `UnavailableError`. */
@Injectable()
export class CustomersRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** The organization's customer row, deleted or not; undefined when it never had one. */
  async find(orgId: string): Promise<CustomerRow | undefined> {
    const row = await this.db
      .selectFrom('billing_customers')
      .select(['stripe_customer_id', 'deleted_at'])
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return row && { stripeCustomerId: row.stripe_customer_id, deletedAt: row.deleted_at };
  }

  /**
   * Records `customerId` as the organization's customer unless a live one is recorded
   * already (a concurrent checkout won); answers the customer now recorded.
   */
  async save(orgId: string, customerId: string): Promise<string> {
    const saved = await this.db
      .insertInto('billing_customers')
      .values({ org_id: orgId, stripe_customer_id: customerId })
      .onConflict((oc) =>
        oc
          .column('org_id')
          .doUpdateSet({ stripe_customer_id: customerId, deleted_at: null })
          .where('billing_customers.deleted_at', 'is not', null),
      )
      .returning('stripe_customer_id')
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    if (saved) return saved.stripe_customer_id;
    const live = await this.find(orgId);
    if (!live) throw new Error(`billing customer of ${orgId} vanished while it was saved`);
    return live.stripeCustomerId;
  }
}
