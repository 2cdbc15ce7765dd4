import { type BillingConfig } from '@heady/config';
import {
  type BudgetRelease,
  type BudgetReserve,
  BudgetExhaustedError,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { BudgetsRepository } from './budgets.repository.js';

const reservations = counter(
  'heady_billing_budget_reservations_total',
  'Budget reservations at admission, by outcome (reserved, refused, no-budget)',
  ['outcome'],
);

const usd = (micros: number): number => Math.round(micros) / 1e6;

/**
 * Monthly budgets as a compensated step of a run: the conductor reserves the run's
 * estimated cost before it admits the run (so a refusal is the client's 402), the run's
 * final event settles it — a succeeded run commits its actual cost and releases the rest,
 * any other end releases it all — and a reservation whose run was never stored is released
 * by the sweep.
 */
@Injectable()
export class BudgetsService {
  constructor(
    @Inject(BudgetsRepository) private readonly budgets: BudgetsRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** @throws BudgetExhaustedError with the month's numbers when the estimate does not fit. */
  async reserve(req: RpcHandled<typeof BudgetReserve>): Promise<RpcReply<typeof BudgetReserve>> {
    const estimate = this.config.budgets.runEstimateMicros;
    const r = await this.budgets.reserve(req.orgId, req.runId, estimate, new Date());
    reservations.inc({ outcome: r.kind });
    if (r.kind === 'no-budget') return { reserved: false, amountMicros: 0 };
    if (r.kind === 'reserved') return { reserved: true, amountMicros: r.amountMicros };
    throw new BudgetExhaustedError({
      creditsUsd: usd(r.budget.creditsMicros),
      committedUsd: usd(r.budget.committedMicros),
      reservedUsd: usd(r.budget.reservedMicros),
      estimateUsd: usd(estimate),
    });
  }

  async release(req: RpcHandled<typeof BudgetRelease>): Promise<RpcReply<typeof BudgetRelease>> {
    return { released: await this.budgets.settle(req.runId, 0, new Date()) };
  }

  /** A run ended: commits its cost when it succeeded, else releases its whole reservation. */
  async settle(runId: string, status: string, costMicros: number): Promise<void> {
    const charged = status === 'SUCCEEDED' ? costMicros : 0;
    if (await this.budgets.settle(runId, charged, new Date()))
      this.log.debug({ run_id: runId, committed_micros: charged }, 'budget reservation settled');
  }

  /** Releases reservations whose run was never stored (older than `graceMs`). */
  async releaseOrphans(now: Date, graceMs = 600_000): Promise<number> {
    const ids = await this.budgets.orphans(new Date(now.getTime() - graceMs));
    for (const id of ids) await this.budgets.settle(id, 0, now);
    return ids.length;
  }
}
