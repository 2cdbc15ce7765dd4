import {
  type BillingUsage,
  FINAL_RUN_EVENTS,
  type RpcHandled,
  type RpcReply,
  type RunEventName,
} from '@heady/contracts';
import { LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { BudgetsService } from '../budgets/budgets.service.js';
import { usageOf } from './cost.js';
import { UsageEventsRepository } from './usage-events.repository.js';
import { UsageRepository } from './usage.repository.js';

const recorded = counter(
  'heady_billing_usage_records_total',
  'Finished runs whose usage was recorded, by outcome (recorded, already)',
  ['outcome'],
);

/**
 * Usage metering: each finished run's tokens per provider and model, its tasks and its
 * cost from the price table, recorded once per run (`usage_records`, keyed by run) and
 * announced once on `billing.usage`.
 */
@Injectable()
export class UsageService {
  constructor(
    @Inject(UsageRepository) private readonly usage: UsageRepository,
    @Inject(UsageEventsRepository) private readonly events: UsageEventsRepository,
    @Inject(BudgetsService) private readonly budgets: BudgetsService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /**
   * A run event: the final ones record the run's usage and settle its budget reservation.
   * Safe to run twice (a redelivery): the record is kept as first written, a reservation is
   * settled once, and the event is published until it was once.
   */
  async onRunEvent(runId: string, event: string): Promise<void> {
    if (!FINAL_RUN_EVENTS.includes(event as RunEventName)) return;
    const run = await this.usage.finishedRun(runId);
    if (!run) return;
    const [tasks, prices] = await Promise.all([this.usage.tasksOf(runId), this.usage.prices()]);
    const r = await this.usage.record(usageOf(run, tasks, prices));
    recorded.inc({ outcome: r.inserted ? 'recorded' : 'already' });
    const stored = await this.usage.recorded(runId);
    if (!stored) return;
    // the budget is charged what was recorded (once: a settled reservation stays settled)
    await this.budgets.settle(runId, run.status, stored.costMicros);
    if (r.published) return;
    await this.events.publish(stored);
    await this.usage.markPublished(runId);
    this.log.debug({ run_id: runId, cost_micros: stored.costMicros }, 'usage recorded');
  }

  async query(req: RpcHandled<typeof BillingUsage>): Promise<RpcReply<typeof BillingUsage>> {
    const rows = await this.usage.grouped(
      req.orgId,
      new Date(req.from),
      new Date(req.to),
      req.groupBy,
    );
    const total = rows.reduce(
      (t, r) => ({
        runs: t.runs + r.runs,
        tasks: t.tasks + r.tasks,
        tokensIn: t.tokensIn + r.tokensIn,
        tokensOut: t.tokensOut + r.tokensOut,
        costUsd: t.costUsd + r.costUsd,
      }),
      { runs: 0, tasks: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 },
    );
    // by model a run counts once per model it used; the total counts it once
    if (req.groupBy === 'model') total.runs = await this.runsIn(req);
    total.costUsd = Math.round(total.costUsd * 1e6) / 1e6;
    return { from: req.from, to: req.to, groupBy: req.groupBy, rows, total };
  }

  private async runsIn(req: RpcHandled<typeof BillingUsage>): Promise<number> {
    const byAction = await this.usage.grouped(
      req.orgId,
      new Date(req.from),
      new Date(req.to),
      'action',
    );
    return byAction.reduce((n, r) => n + r.runs, 0);
  }
}
