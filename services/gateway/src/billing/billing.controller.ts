import {
  BillingCheckout,
  BillingPortal,
  BillingSubscription,
  BillingUsage,
  BillingWebhook,
  ErrorCode,
  HeadyError,
} from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
import { Body, Controller, Get, Headers, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { type z } from 'zod';
import { Access } from '../auth/access.js';
import { organizationOf } from '../memory/memory.controller.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import {
  checkoutBody,
  checkoutReply,
  portalBody,
  portalReply,
  stripeEventBody,
  subscriptionReply,
  usageQuery,
  usageReply,
  webhookReply,
} from './billing.schema.js';

/**
 * Billing over REST: each route is one signed request/reply to billing (`bill.*`). Reading
 * the subscription needs a member's clearance (INTERNAL); starting a checkout or opening
 * the portal, which change what the organization pays, an admin's (RESTRICTED). The webhook
 * is public: Stripe has no API key, its signature is what billing checks.
 */
@Controller('api/billing')
@Access('RESTRICTED')
export class BillingController {
  constructor(@Inject(ServiceRpc) private readonly rpc: ServiceRpc) {}

  /** A Stripe Checkout Session (subscription mode) for a paid plan. */
  @ApiRoute({
    summary: 'Start a Stripe Checkout for a plan',
    body: checkoutBody,
    success: { status: 200, description: 'the Checkout page and session', schema: checkoutReply },
    problems: [400, 415, 422, 503],
  })
  @Post('checkout')
  @HttpCode(200)
  checkout(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof checkoutReply>> {
    const b = parseOrThrow(checkoutBody, body, 'body');
    return this.rpc.call(BillingCheckout, { orgId: organizationOf(req), ...b }, checkoutReply);
  }

  /** A Stripe customer portal session (after a first checkout). */
  @ApiRoute({
    summary: 'Open the Stripe customer portal',
    body: portalBody,
    success: { status: 200, description: 'the portal page', schema: portalReply },
    problems: [400, 409, 415, 422, 503],
  })
  @Post('portal')
  @HttpCode(200)
  portal(@Body() body: unknown, @Req() req: object): Promise<z.infer<typeof portalReply>> {
    const b = parseOrThrow(portalBody, body ?? {}, 'body');
    return this.rpc.call(BillingPortal, { orgId: organizationOf(req), ...b }, portalReply);
  }

  /** The organization's plan, subscription status and current period. */
  @ApiRoute({
    summary: "The organization's subscription",
    success: { status: 200, description: 'the subscription', schema: subscriptionReply },
    problems: [503],
  })
  @Get('subscription')
  @Access('INTERNAL')
  subscription(@Req() req: object): Promise<z.infer<typeof subscriptionReply>> {
    return this.rpc.call(BillingSubscription, { orgId: organizationOf(req) }, subscriptionReply);
  }

  /** What the organization's finished runs used in [from, to): tokens, tasks, cost. */
  @ApiRoute({
    summary: "The organization's usage, grouped by day, action or model",
    query: usageQuery,
    success: { status: 200, description: 'usage totals', schema: usageReply },
    problems: [422, 503],
  })
  @Get('usage')
  @Access('INTERNAL')
  usage(@Query() query: unknown, @Req() req: object): Promise<z.infer<typeof usageReply>> {
    const q = parseOrThrow(usageQuery, query, 'query');
    return this.rpc.call(BillingUsage, { orgId: organizationOf(req), ...q }, usageReply);
  }

  /**
   * Stripe's webhooks. The raw body (kept as sent: see json-body.ts) and `Stripe-Signature`
   * go to billing, which verifies them; a bad or missing signature is 400 and changes nothing.
   */
  @ApiRoute({
    summary: 'Stripe webhook (verified by its Stripe-Signature)',
    body: stripeEventBody,
    success: { status: 200, description: 'the event was received', schema: webhookReply },
    problems: [400, 413, 415, 503],
  })
  @Post('webhook')
  @HttpCode(200)
  @Access('PUBLIC')
  webhook(
    @Body() body: unknown,
    @Headers('stripe-signature') signature: string | undefined,
  ): Promise<z.infer<typeof webhookReply>> {
    if (typeof body !== 'string')
      throw new HeadyError(ErrorCode.MalformedBody, 'a Stripe webhook needs a JSON body');
    return this.rpc.call(
      BillingWebhook,
      { payload: body, ...(signature === undefined ? {} : { signature }) },
      webhookReply,
    );
  }
}
