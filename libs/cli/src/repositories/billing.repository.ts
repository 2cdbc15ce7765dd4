import { type Database, type Kysely, sql } from '@heady/db';

/** A price of the table usage is costed from, in US dollars per million tokens. */
export interface PriceRow {
  provider: string;
  model: string;
  inputUsdPerMtok: number;
  outputUsdPerMtok: number;
}

/**
 * What `heady billing` reads and writes in PostgreSQL: an organization's subscription, its
 * usage since a date, its monthly budget, the stored Stripe events, and the price table
 * (billing owns these tables; the operator's command changes budgets and prices only).
 */
export class BillingAdminRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The organization's subscription, as the last applied webhook left it. */
  subscription(orgId: string) {
    return this.db
      .selectFrom('billing_subscriptions')
      .select(['status', 'plan', 'current_period_end', 'cancel_at_period_end', 'past_due_since'])
      .where('org_id', '=', orgId)
      .executeTakeFirst();
  }

  /** Runs, tokens and cost (micro-dollars) the organization used since `since`. */
  usageSince(orgId: string, since: Date) {
    return this.db
      .selectFrom('usage_records')
      .select([
        sql<string>`count(*)`.as('runs'),
        sql<string>`coalesce(sum(tokens_in), 0)`.as('tokens_in'),
        sql<string>`coalesce(sum(tokens_out), 0)`.as('tokens_out'),
        sql<string>`coalesce(sum(cost_micros), 0)`.as('cost'),
      ])
      .where('org_id', '=', orgId)
      .where('finished_at', '>=', since)
      .executeTakeFirstOrThrow();
  }

  /** The organization's monthly budget, if it has one. */
  budget(orgId: string) {
    return this.db
      .selectFrom('org_budgets')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
  }

  /** Removes the budget: the organization's runs are no longer limited by cost. */
  async removeBudget(orgId: string): Promise<void> {
    await this.db.deleteFrom('org_budgets').where('org_id', '=', orgId).execute();
  }

  /** Sets the monthly budget (micro-dollars), starting its period at `periodStart` when new. */
  async setBudget(orgId: string, micros: number, periodStart: string): Promise<void> {
    await this.db
      .insertInto('org_budgets')
      .values({ org_id: orgId, monthly_credits_micros: micros, period_start: periodStart })
      .onConflict((oc) =>
        oc.column('org_id').doUpdateSet({ monthly_credits_micros: micros, updated_at: new Date() }),
      )
      .execute();
  }

  /** The stored payload of Stripe event `id`, if billing received it. */
  async storedEvent(id: string): Promise<unknown> {
    const e = await this.db
      .selectFrom('stripe_events')
      .select(['payload'])
      .where('id', '=', id)
      .executeTakeFirst();
    return e?.payload;
  }

  /** Keeps the stored event under another id (`<id>:superseded:<ms>`), so a replay applies again. */
  async supersedeEvent(id: string): Promise<void> {
    await this.db
      .updateTable('stripe_events')
      .set({ id: `${id}:superseded:${Date.now()}` })
      .where('id', '=', id)
      .execute();
  }

  /** The price table, by provider and model. */
  async prices(): Promise<PriceRow[]> {
    const rows = await this.db
      .selectFrom('model_prices')
      .selectAll()
      .orderBy('provider')
      .orderBy('model')
      .execute();
    return rows.map((r) => ({
      provider: r.provider,
      model: r.model,
      inputUsdPerMtok: Number(r.input_usd_per_mtok),
      outputUsdPerMtok: Number(r.output_usd_per_mtok),
    }));
  }

  /** Sets one price (`*` for any model of a provider, or any provider). */
  async setPrice(p: PriceRow): Promise<void> {
    await this.db
      .insertInto('model_prices')
      .values({
        provider: p.provider,
        model: p.model,
        input_usd_per_mtok: p.inputUsdPerMtok,
        output_usd_per_mtok: p.outputUsdPerMtok,
      })
      .onConflict((oc) =>
        oc.columns(['provider', 'model']).doUpdateSet({
          input_usd_per_mtok: p.inputUsdPerMtok,
          output_usd_per_mtok: p.outputUsdPerMtok,
          updated_at: new Date(),
        }),
      )
      .execute();
  }
}
