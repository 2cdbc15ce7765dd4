import { createDb, type Database, ensureOrganization, type Kysely } from '@heady/db';
import { createTestDatabase, type TestDatabase } from '@heady/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetsRepository, monthOf } from '../src/budgets/budgets.repository.js';

describe(BudgetsRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let budgets: BudgetsRepository;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_billing_budgets');
    db = createDb({ url: pg.url, poolMax: 10 });
    budgets = new BudgetsRepository(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await pg?.drop();
  });

  async function orgWithBudget(
    name: string,
    creditsMicros: number,
    periodStart = monthOf(new Date()),
  ) {
    const org = await ensureOrganization(db, name, 'PRO');
    await db
      .insertInto('org_budgets')
      .values({ org_id: org.id, monthly_credits_micros: creditsMicros, period_start: periodStart })
      .execute();
    return org.id;
  }

  it('never lets 50 concurrent reservations overspend a budget that holds 10', async () => {
    const org = await orgWithBudget('fifty', 10 * 1000);
    const runs = Array.from({ length: 50 }, () => randomUUID());
    const out = await Promise.all(runs.map((r) => budgets.reserve(org, r, 1000, new Date())));
    expect(out.filter((o) => o.kind === 'reserved')).toHaveLength(10);
    expect(out.filter((o) => o.kind === 'refused')).toHaveLength(40);
    expect(await budgets.numbers(org)).toMatchObject({
      reservedMicros: 10_000,
      committedMicros: 0,
    });
    // settling commits the cost once and releases the rest
    const reserved = runs.filter((_, i) => out[i]?.kind === 'reserved');
    const first = reserved[0] ?? '';
    expect(await budgets.settle(first, 400, new Date())).toBe(true);
    expect(await budgets.settle(first, 400, new Date())).toBe(false);
    expect(await budgets.numbers(org)).toMatchObject({
      reservedMicros: 9000,
      committedMicros: 400,
    });
    // a retried reservation of the same run answers the one taken
    expect(await budgets.reserve(org, reserved[1] ?? '', 1000, new Date())).toEqual({
      kind: 'reserved',
      amountMicros: 1000,
    });
    expect((await budgets.numbers(org))?.reservedMicros).toBe(9000);
  });

  it('starts the committed amount over in a new month and ignores organizations without a budget', async () => {
    const org = await orgWithBudget('rollover', 1000, '2020-01-01');
    await db
      .updateTable('org_budgets')
      .set({ committed_micros: 1000 })
      .where('org_id', '=', org)
      .execute();
    expect((await budgets.reserve(org, randomUUID(), 1000, new Date())).kind).toBe('reserved');
    expect(await budgets.numbers(org)).toMatchObject({
      committedMicros: 0,
      reservedMicros: 1000,
      periodStart: monthOf(new Date()),
    });
    const none = await ensureOrganization(db, 'no-budget', 'PRO');
    expect(await budgets.reserve(none.id, randomUUID(), 1000, new Date())).toEqual({
      kind: 'no-budget',
    });
  });

  it('finds open reservations whose run was never stored', async () => {
    const org = await orgWithBudget('orphans', 5000);
    const lost = randomUUID();
    await budgets.reserve(org, lost, 1000, new Date());
    expect(await budgets.orphans(new Date(Date.now() + 1000))).toContain(lost);
    expect(await budgets.orphans(new Date(Date.now() - 60_000))).not.toContain(lost);
  });
});
