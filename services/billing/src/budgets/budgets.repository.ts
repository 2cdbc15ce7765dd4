import { rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** An organization's month, in micro-dollars. */
export interface BudgetNumbers {
  creditsMicros: number;
  committedMicros: number;
  reservedMicros: number;
  periodStart: string;
}

/** What a reservation attempt did. */
export type ReserveOutcome =
  | { kind: 'no-budget' }
  | { kind: 'reserved'; amountMicros: number }
  | { kind: 'refused'; budget: BudgetNumbers };

const pg = (e: unknown): never => rethrowUnavailable(e, 'postgres');

/** The first day of `now`'s month (UTC), as `YYYY-MM-01`. */
export function monthOf(now: Date): string {
  return `${now.toISOString().slice(0, 7)}-01`;
}

/**
 * `org_budgets` and `budget_reservations`. A reservation is one conditional UPDATE of the
 * organization's budget row: PostgreSQL locks the row and re-checks the condition against
 * the version it locked, so concurrent reservations are serialized and never overspend.
 */
@Injectable()
export class BudgetsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /**
   * Reserves `amountMicros` for `runId` if the month's credits hold it (a new month starts
   * `committed` over). Asked again for the same run (a retried request), it answers the
   * reservation already taken.
   */
  async reserve(
    orgId: string,
    runId: string,
    amountMicros: number,
    now: Date,
  ): Promise<ReserveOutcome> {
    const month = monthOf(now);
    return this.db
      .transaction()
      .execute(async (tx) => {
        const existing = await tx
          .selectFrom('budget_reservations')
          .select(['amount_micros', 'status'])
          .where('run_id', '=', runId)
          .executeTakeFirst();
        if (existing)
          return { kind: 'reserved', amountMicros: Number(existing.amount_micros) } as const;
        const committed = sql<string>`CASE WHEN period_start < ${month}::date THEN 0 ELSE committed_micros END`;
        const updated = await tx
          .updateTable('org_budgets')
          .set({
            committed_micros: committed,
            period_start: sql`GREATEST(period_start, ${month}::date)`,
            reserved_micros: sql`reserved_micros + ${amountMicros}`,
            updated_at: now,
          })
          .where('org_id', '=', orgId)
          .where(
            sql<boolean>`${committed} + reserved_micros + ${amountMicros} <= monthly_credits_micros`,
          )
          .returning('org_id')
          .executeTakeFirst();
        if (updated) {
          await tx
            .insertInto('budget_reservations')
            .values({
              run_id: runId,
              org_id: orgId,
              amount_micros: amountMicros,
              status: 'RESERVED',
            })
            .execute();
          return { kind: 'reserved', amountMicros } as const;
        }
        const budget = await this.numbersIn(tx, orgId);
        return budget ? ({ kind: 'refused', budget } as const) : ({ kind: 'no-budget' } as const);
      })
      .catch(pg);
  }

  /**
   * Settles `runId`'s reservation once: `costMicros` is committed (0 to release it all) and
   * the reservation leaves `reserved`. False when there was none open (settled already, or
   * the run had no budget).
   */
  async settle(runId: string, costMicros: number, now: Date): Promise<boolean> {
    return this.db
      .transaction()
      .execute(async (tx) => {
        const r = await tx
          .updateTable('budget_reservations')
          .set({
            status: costMicros > 0 ? 'COMMITTED' : 'RELEASED',
            committed_micros: costMicros,
            settled_at: now,
          })
          .where('run_id', '=', runId)
          .where('status', '=', 'RESERVED')
          .returning(['org_id', 'amount_micros'])
          .executeTakeFirst();
        if (!r) return false;
        await tx
          .updateTable('org_budgets')
          .set({
            reserved_micros: sql`reserved_micros - ${Number(r.amount_micros)}`,
            committed_micros: sql`committed_micros + ${costMicros}`,
            updated_at: now,
          })
          .where('org_id', '=', r.org_id)
          .execute();
        return true;
      })
      .catch(pg);
  }

  /** Reservations still open after `olderThan` whose run was never stored (the conductor died). */
  async orphans(olderThan: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('budget_reservations as r')
      .leftJoin('pipeline_runs as p', 'p.id', 'r.run_id')
      .select('r.run_id')
      .where('r.status', '=', 'RESERVED')
      .where('r.created_at', '<', olderThan)
      .where('p.id', 'is', null)
      .limit(500)
      .execute()
      .catch(pg);
    return rows.map((r) => r.run_id);
  }

  /** The organization's month, or undefined without a budget. */
  numbers(orgId: string): Promise<BudgetNumbers | undefined> {
    return this.numbersIn(this.db, orgId).catch(pg);
  }

  private async numbersIn(db: Kysely<Database>, orgId: string): Promise<BudgetNumbers | undefined> {
    const b = await db
      .selectFrom('org_budgets')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    return (
      b && {
        creditsMicros: Number(b.monthly_credits_micros),
        committedMicros: Number(b.committed_micros),
        reservedMicros: Number(b.reserved_micros),
        periodStart: monthOf(b.period_start),
      }
    );
  }
}
