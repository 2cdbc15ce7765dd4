import { type BillingConfig } from '@heady/config';
import { UnavailableError, WebhookSignatureInvalidError } from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import Stripe from 'stripe';

/** The Stripe SDK, pointed at Stripe or (HEADY_STRIPE_API_URL) at the local fake Stripe. */
export function createStripe(config: BillingConfig): Stripe {
  const url = config.stripe.apiUrl ? new URL(config.stripe.apiUrl) : undefined;
  return new Stripe(config.stripe.secretKey, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    ...(url
      ? {
          host: url.hostname,
          port: url.port || (url.protocol === 'https:' ? 443 : 80),
          protocol: url.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

/** Stripe being unreachable or failing is an `UnavailableError` (503 at the gateway). */
function rethrowStripe(e: unknown): never {
  if (e instanceof Stripe.errors.StripeError && e.statusCode && e.statusCode < 500)
    throw new Error(`Stripe refused the request: ${e.message}`, { cause: e });
  throw new UnavailableError('stripe', { cause: e });
}

/** Everything billing says to Stripe, through the official SDK. */
@Injectable()
export class StripeRepository {
  private readonly stripe: Stripe;

  constructor(@Inject(CONFIG) private readonly config: BillingConfig) {
    this.stripe = createStripe(config);
  }

  /**
   * Creates the organization's customer. `generation` counts its deleted customers, so the
   * idempotency key is the same for every retry of one creation (Stripe answers the first
   * customer again) and new once the previous customer was deleted.
   */
  async createCustomer(orgId: string, name: string, generation: number): Promise<string> {
    const c = await this.stripe.customers
      .create(
        { name, metadata: { orgId } },
        { idempotencyKey: `heady-customer:${orgId}:${generation}` },
      )
      .catch(rethrowStripe);
    return c.id;
  }

  /** A subscription-mode Checkout Session for `priceId`, for the organization's customer. */
  async createCheckout(p: {
    orgId: string;
    customerId: string;
    priceId: string;
    successUrl: string;
    cancelUrl: string;
  }): Promise<{ id: string; url: string }> {
    const s = await this.stripe.checkout.sessions
      .create({
        mode: 'subscription',
        customer: p.customerId,
        client_reference_id: p.orgId,
        metadata: { orgId: p.orgId },
        subscription_data: { metadata: { orgId: p.orgId } },
        line_items: [{ price: p.priceId, quantity: 1 }],
        success_url: p.successUrl,
        cancel_url: p.cancelUrl,
      })
      .catch(rethrowStripe);
    if (!s.url) throw new UnavailableError('stripe');
    return { id: s.id, url: s.url };
  }

  /** A customer portal session for the customer. */
  async createPortal(customerId: string, returnUrl: string | undefined): Promise<string> {
    const s = await this.stripe.billingPortal.sessions
      .create({ customer: customerId, ...(returnUrl ? { return_url: returnUrl } : {}) })
      .catch(rethrowStripe);
    return s.url;
  }

  /**
   * Reports one run's tokens as a billing meter event. The idempotency key is the run's, so
   * a retry (after a timeout, a crash before the outcome was recorded) is answered with the
   * first event instead of counting the tokens again; `identifier` is Stripe's own
   * de-duplication key for meter events.
   */
  async meterEvent(p: {
    eventName: string;
    customerId: string;
    value: number;
    runId: string;
    at: Date;
  }): Promise<void> {
    await this.stripe.billing.meterEvents
      .create(
        {
          event_name: p.eventName,
          identifier: `heady-run-${p.runId}`,
          timestamp: Math.floor(p.at.getTime() / 1000),
          payload: { stripe_customer_id: p.customerId, value: String(p.value) },
        },
        { idempotencyKey: `heady-meter:${p.runId}` },
      )
      .catch(rethrowStripe);
  }

  /**
   * Verifies a webhook with the SDK (`constructEvent`: HMAC-SHA256 of the raw body under
   * the webhook secret, timestamp within the configured tolerance) and parses it.
   * @throws WebhookSignatureInvalidError when the signature is missing, wrong or too old.
   */
  verify(payload: string, signature: string | undefined): Stripe.Event {
    if (!signature) throw new WebhookSignatureInvalidError('no Stripe-Signature header');
    try {
      return this.stripe.webhooks.constructEvent(
        payload,
        signature,
        this.config.stripe.webhookSecret,
        this.config.stripe.webhookToleranceS,
      );
    } catch (e) {
      if (e instanceof Stripe.errors.StripeSignatureVerificationError)
        throw new WebhookSignatureInvalidError(e.message);
      // a signature that verifies over a body that is not JSON
      throw new WebhookSignatureInvalidError(
        `the payload is not an event: ${(e as Error).message}`,
      );
    }
  }
}
