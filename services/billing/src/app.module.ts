import { type DynamicModule, Module } from '@nestjs/common';
import { BillingController } from './checkout/billing.controller.js';
import { CheckoutService } from './checkout/checkout.service.js';
import { CustomersRepository } from './customers/customers.repository.js';
import { BillingOrganizationsRepository } from './customers/organizations.repository.js';
import { StripeRepository } from './stripe/stripe.repository.js';
import { TierChangesService } from './tiers/tier-changes.service.js';
import { TierEventsRepository } from './tiers/tier-events.repository.js';
import { BillingStoreRepository } from './webhooks/billing-store.repository.js';
import { WebhookService } from './webhooks/webhook.service.js';
import { RunEventsController } from './usage/run-events.controller.js';
import { UsageEventsRepository } from './usage/usage-events.repository.js';
import { MeterRepository, UsageRepository } from './usage/usage.repository.js';
import { MeterReporterService } from './usage/meter-reporter.service.js';
import { UsageService } from './usage/usage.service.js';
import { BudgetsRepository } from './budgets/budgets.repository.js';
import { BudgetsService } from './budgets/budgets.service.js';
import { SweepService } from './budgets/sweep.service.js';

/** Billing: plans on Stripe (checkout, portal, verified webhooks), tier changes and usage. */
@Module({})
export class BillingModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: BillingModule,
      imports: [runtime],
      controllers: [BillingController, RunEventsController],
      providers: [
        StripeRepository,
        CustomersRepository,
        BillingOrganizationsRepository,
        BillingStoreRepository,
        TierEventsRepository,
        TierChangesService,
        WebhookService,
        CheckoutService,
        UsageRepository,
        UsageEventsRepository,
        UsageService,
        BudgetsRepository,
        BudgetsService,
        SweepService,
        MeterRepository,
        MeterReporterService,
      ],
    };
  }
}
