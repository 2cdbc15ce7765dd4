import { HandleRpc } from '@heady/bus';
import {
  BillingCheckout,
  BillingPortal,
  BillingSubscription,
  BillingUsage,
  BillingWebhook,
  BudgetRelease,
  BudgetReserve,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { WebhookService } from '../webhooks/webhook.service.js';
import { CheckoutService } from './checkout.service.js';
import { UsageService } from '../usage/usage.service.js';
import { BudgetsService } from '../budgets/budgets.service.js';

/**
 * Billing's request/reply RPCs (`bill.*`, queue group `billing`), signed like every bus
 * message; each request is checked against its RPC's schema before it gets here. The
 * gateway adds the caller's organization from its API key.
 */
@Controller()
export class BillingController {
  constructor(
    @Inject(CheckoutService) private readonly checkouts: CheckoutService,
    @Inject(WebhookService) private readonly webhooks: WebhookService,
    @Inject(UsageService) private readonly usage: UsageService,
    @Inject(BudgetsService) private readonly budgets: BudgetsService,
  ) {}

  @HandleRpc(BudgetReserve)
  reserve(
    @Payload() req: RpcHandled<typeof BudgetReserve>,
  ): Promise<RpcReply<typeof BudgetReserve>> {
    return this.budgets.reserve(req);
  }

  @HandleRpc(BudgetRelease)
  release(
    @Payload() req: RpcHandled<typeof BudgetRelease>,
  ): Promise<RpcReply<typeof BudgetRelease>> {
    return this.budgets.release(req);
  }

  @HandleRpc(BillingUsage)
  usageOf(@Payload() req: RpcHandled<typeof BillingUsage>): Promise<RpcReply<typeof BillingUsage>> {
    return this.usage.query(req);
  }

  @HandleRpc(BillingCheckout)
  checkout(
    @Payload() req: RpcHandled<typeof BillingCheckout>,
  ): Promise<RpcReply<typeof BillingCheckout>> {
    return this.checkouts.checkout(req);
  }

  @HandleRpc(BillingPortal)
  portal(
    @Payload() req: RpcHandled<typeof BillingPortal>,
  ): Promise<RpcReply<typeof BillingPortal>> {
    return this.checkouts.portal(req);
  }

  @HandleRpc(BillingSubscription)
  subscription(
    @Payload() req: RpcHandled<typeof BillingSubscription>,
  ): Promise<RpcReply<typeof BillingSubscription>> {
    return this.checkouts.subscription(req);
  }

  @HandleRpc(BillingWebhook)
  webhook(
    @Payload() req: RpcHandled<typeof BillingWebhook>,
  ): Promise<RpcReply<typeof BillingWebhook>> {
    return this.webhooks.handle(req);
  }
}
