import { type BillingConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger, counter } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { StripeRepository } from '../stripe/stripe.repository.js';
import { MeterRepository } from './usage.repository.js';

const reported = counter(
  'heady_billing_meter_events_total',
  'Runs reported to Stripe as billing meter events, by outcome (reported, failed)',
  ['outcome'],
);

/** Batches of this many runs, this many requests to Stripe at once. */
const BATCH = 100;
const PARALLEL = 8;

/**
 * Reports recorded usage of metered plans (HEADY_STRIPE_METERED_PLANS) to Stripe as billing
 * meter events, in batches, each event with the run's idempotency key: a run is marked
 * metered only after Stripe answered, and a retry after a crash is answered by Stripe with
 * the first event, so no run is billed twice.
 */
@Injectable()
export class MeterReporterService {
  constructor(
    @Inject(MeterRepository) private readonly meter: MeterRepository,
    @Inject(StripeRepository) private readonly stripe: StripeRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Reports one batch; answers how many runs reached Stripe. */
  async reportBatch(): Promise<number> {
    const due = await this.meter.unmetered(this.config.meter.plans, BATCH);
    let done = 0;
    for (let i = 0; i < due.length; i += PARALLEL) {
      const slice = due.slice(i, i + PARALLEL);
      const results = await Promise.allSettled(
        slice.map((u) =>
          this.stripe.meterEvent({
            eventName: this.config.meter.eventName,
            customerId: u.customerId,
            value: u.tokens,
            runId: u.runId,
            at: u.finishedAt,
          }),
        ),
      );
      const ok = slice.filter((_, j) => results[j]?.status === 'fulfilled').map((u) => u.runId);
      await this.meter.markMetered(ok);
      done += ok.length;
      reported.inc({ outcome: 'reported' }, ok.length);
      const failed = slice.length - ok.length;
      if (failed) {
        reported.inc({ outcome: 'failed' }, failed);
        this.log.warn({ failed }, 'meter events not reported yet; the next sweep retries');
      }
    }
    return done;
  }
}
