import { type BillingConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { TierChangesService } from '../tiers/tier-changes.service.js';
import { MeterReporterService } from '../usage/meter-reporter.service.js';
import { BudgetsService } from './budgets.service.js';

/**
 * Billing's periodic work, every HEADY_BILLING_SWEEP_MS: subscriptions past their grace
 * period drop to Free, plan changes left unpublished go out, reservations whose run was
 * never stored are released, and a batch of usage goes to Stripe as meter events. One sweep at a time per process; replicas are kept apart by
 * row locks.
 */
@Injectable()
export class SweepService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    @Inject(TierChangesService) private readonly tiers: TierChangesService,
    @Inject(BudgetsService) private readonly budgets: BudgetsService,
    @Inject(MeterReporterService) private readonly meter: MeterReporterService,
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async sweep(now = new Date()): Promise<void> {
    await this.tiers.sweep(now);
    await this.budgets.releaseOrphans(now);
    await this.meter.reportBatch();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.log.warn({ err }, 'billing sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.config.grace.sweepMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
