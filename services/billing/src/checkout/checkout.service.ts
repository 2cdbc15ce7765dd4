import { type BillingConfig } from '@heady/config';
import {
  BillingCustomerNotFoundError,
  type BillingCheckout,
  type BillingPortal,
  type BillingSubscription,
  ForbiddenError,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { CustomersRepository } from '../customers/customers.repository.js';
import { BillingOrganizationsRepository } from '../customers/organizations.repository.js';
import { StripeRepository } from '../stripe/stripe.repository.js';
import { BillingStoreRepository } from '../webhooks/billing-store.repository.js';

/** Checkout, the customer portal and the subscription as the webhooks last described it. */
@Injectable()
export class CheckoutService {
  constructor(
    @Inject(StripeRepository) private readonly stripe: StripeRepository,
    @Inject(CustomersRepository) private readonly customers: CustomersRepository,
    @Inject(BillingOrganizationsRepository) private readonly orgs: BillingOrganizationsRepository,
    @Inject(BillingStoreRepository) private readonly store: BillingStoreRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {}

  /**
   * The organization's Stripe customer, created once: the first checkout creates it (with
   * an idempotency key, so a retried creation is the same customer) and records it; a
   * concurrent checkout that lost the race uses the one recorded.
   */
  private async customerOf(orgId: string): Promise<string> {
    const row = await this.customers.find(orgId);
    if (row && !row.deletedAt) return row.stripeCustomerId;
    const org = await this.orgs.find(orgId);
    if (!org) throw new ForbiddenError('the organization of this API key no longer exists');
    const id = await this.stripe.createCustomer(orgId, org.name, row?.deletedAt?.getTime() ?? 0);
    return this.customers.save(orgId, id);
  }

  async checkout(
    req: RpcHandled<typeof BillingCheckout>,
  ): Promise<RpcReply<typeof BillingCheckout>> {
    const customerId = await this.customerOf(req.orgId);
    const s = await this.stripe.createCheckout({
      orgId: req.orgId,
      customerId,
      priceId: this.config.stripe.prices[req.plan],
      successUrl: req.successUrl,
      cancelUrl: req.cancelUrl,
    });
    return { url: s.url, sessionId: s.id };
  }

  async portal(req: RpcHandled<typeof BillingPortal>): Promise<RpcReply<typeof BillingPortal>> {
    const row = await this.customers.find(req.orgId);
    if (!row || row.deletedAt) throw new BillingCustomerNotFoundError(req.orgId);
    return { url: await this.stripe.createPortal(row.stripeCustomerId, req.returnUrl) };
  }

  async subscription(
    req: RpcHandled<typeof BillingSubscription>,
  ): Promise<RpcReply<typeof BillingSubscription>> {
    const s = await this.store.subscription(req.orgId);
    if (!s) {
      const org = await this.orgs.find(req.orgId);
      return {
        plan: org?.plan ?? 'FREE',
        status: 'none',
        currentPeriodStart: null,
        currentPeriodEnd: null,
        cancelAtPeriodEnd: false,
        pastDueSince: null,
      };
    }
    return {
      plan: s.plan,
      status: s.status,
      currentPeriodStart: s.currentPeriodStart?.toISOString() ?? null,
      currentPeriodEnd: s.currentPeriodEnd?.toISOString() ?? null,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      pastDueSince: s.pastDueSince?.toISOString() ?? null,
    };
  }
}
