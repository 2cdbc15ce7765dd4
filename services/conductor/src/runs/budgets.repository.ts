import { BusPublisher } from '@heady/bus';
import { type ConductorConfig } from '@heady/config';
import { BudgetRelease, BudgetReserve, rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely } from '@heady/db';
import { CONFIG, DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/**
 * Budgets at admission: whether the organization has one (`org_budgets`, written by billing
 * and operators), and billing's `bill.budget.*` RPCs that reserve and release a run's
 * estimated cost. Organizations without a budget never wait on billing.
 */
@Injectable()
export class BudgetsRepository {
  constructor(
    @Inject(DB) private readonly db: Kysely<Database>,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: ConductorConfig,
  ) {}

  async hasBudget(orgId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('org_budgets')
      .select('org_id')
      .where('org_id', '=', orgId)
      .executeTakeFirst()
      .catch((e: unknown) => rethrowUnavailable(e, 'postgres'));
    return !!r;
  }

  /** @throws the BUDGET_EXHAUSTED error billing answers when the estimate does not fit. */
  async reserve(orgId: string, runId: string, action: string): Promise<void> {
    await this.bus.call(
      BudgetReserve,
      { orgId, runId, action },
      { timeoutMs: this.config.nats.rpcTimeoutMs },
    );
  }

  async release(orgId: string, runId: string): Promise<void> {
    await this.bus.call(
      BudgetRelease,
      { orgId, runId },
      { timeoutMs: this.config.nats.rpcTimeoutMs },
    );
  }
}
