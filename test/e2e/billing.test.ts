import { startFakeStripeServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, describe, expect, it } from 'vitest';

// Billing on Stripe, end to end: gateway → signed request/reply → billing (its own process)
// → the official Stripe SDK → a local fake Stripe; webhooks signed by the SDK's test header
// generator and posted to the gateway as Stripe would; plan changes applied by the
// gateway's tier cache from billing.tier.changed.

const stripe = await startFakeStripeServer();
afterAll(() => stripe.close());

const PRO_PRICE = 'price_e2e_pro';
const GRACE_MS = 1_500;
// limits high enough for the polling below; the plan decides which one applies
const FREE_LIMIT = 300;
const PRO_LIMIT = 1200;

describe('billing on Stripe', () => {
  const system = withSystem({
    database: 'heady_e2e_billing',
    services: ['billing', 'gateway'],
    env: { HEADY_PLAN_FREE_LIMIT: String(FREE_LIMIT), HEADY_PLAN_PRO_LIMIT: String(PRO_LIMIT) },
    billing: {
      STRIPE_SECRET_KEY: stripe.secretKey,
      HEADY_STRIPE_API_URL: stripe.url,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      HEADY_STRIPE_PRICE_PRO: PRO_PRICE,
      HEADY_BILLING_GRACE_MS: String(GRACE_MS),
      HEADY_BILLING_SWEEP_MS: '250',
    },
    keys: {
      acmeAdmin: { org: 'acme', plan: 'FREE', role: 'admin' },
      acmeMember: { org: 'acme', plan: 'FREE', role: 'member' },
      globex: { org: 'globex', plan: 'FREE', role: 'admin' },
    },
  });

  const orgId = async (name: string): Promise<string> =>
    (
      await system.db
        .selectFrom('organizations')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirstOrThrow()
    ).id;

  const deliver = (e: { payload: string; signature?: string }) =>
    fetch(`${system.gatewayUrl}/api/billing/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(e.signature === undefined ? {} : { 'stripe-signature': e.signature }),
      },
      body: e.payload,
    });

  const subscription = (
    org: string,
    customer: string,
    over: Record<string, unknown> = {},
  ): Record<string, unknown> => {
    const start = Math.floor(Date.now() / 1000);
    return {
      id: 'sub_e2e_1',
      object: 'subscription',
      customer,
      status: 'active',
      created: start,
      cancel_at_period_end: false,
      canceled_at: null,
      ended_at: null,
      cancel_at: null,
      metadata: { orgId: org },
      items: {
        object: 'list',
        data: [
          {
            id: 'si_e2e_1',
            price: { id: PRO_PRICE, object: 'price' },
            current_period_start: start,
            current_period_end: start + 30 * 86_400,
          },
        ],
      },
      ...over,
    };
  };

  const policyOf = async (key: string): Promise<string | null> =>
    (await system.request('GET', '/api/billing/subscription', { key })).headers.get(
      'ratelimit-policy',
    );

  /** Waits until the gateway limits `key` with `q=<limit>` (the tier cache applied the change). */
  const waitForLimit = async (key: string, limit: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await policyOf(key))?.includes(`q=${limit};`)) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`the limit never became ${limit}: ${await policyOf(key)}`);
  };

  const audits = (target: string) =>
    system.db
      .selectFrom('audit_logs')
      .selectAll()
      .where('action', '=', 'STRIPE_WEBHOOK')
      .where('target', '=', target)
      .execute();

  it('checks out, subscribes to Pro, ignores replays and older updates, audits refusals, downgrades unpaid', async () => {
    const admin = system.keys.acmeAdmin;
    const acme = await orgId('acme');

    // a member may read but not buy
    const refused = await system.request('POST', '/api/billing/checkout', {
      key: system.keys.acmeMember,
      body: {
        plan: 'PRO',
        successUrl: 'https://app.example/ok',
        cancelUrl: 'https://app.example/no',
      },
    });
    expect(refused.status).toBe(403);
    const bad = await system.request('POST', '/api/billing/checkout', {
      key: admin,
      body: { plan: 'GOLD', successUrl: 'not a url', cancelUrl: 'https://app.example/no' },
    });
    expect(bad.status).toBe(422);
    expect(bad.type).toContain('application/problem+json');
    expect(stripe.requests).toHaveLength(0);

    // checkout: one customer for the organization, created once, and the plan's price
    const body = {
      plan: 'PRO',
      successUrl: 'https://app.example/ok',
      cancelUrl: 'https://app.example/no',
    };
    const first = await system.request('POST', '/api/billing/checkout', { key: admin, body });
    expect(first.status, first.text).toBe(200);
    const second = await system.request('POST', '/api/billing/checkout', { key: admin, body });
    expect(second.status).toBe(200);
    expect(stripe.customers.size).toBe(1);
    const [customer] = [...stripe.customers.values()];
    expect(customer?.metadata).toEqual({ orgId: acme });
    const session = stripe.checkoutSessions.get(first.json.sessionId as string);
    expect(first.json.url).toBe(session?.url);
    expect(session).toMatchObject({
      mode: 'subscription',
      customer: customer?.id,
      client_reference_id: acme,
      metadata: { orgId: acme },
      line_items: { '0': { price: PRO_PRICE, quantity: '1' } },
    });
    expect(stripe.checkoutSessions.get(second.json.sessionId as string)?.customer).toBe(
      customer?.id,
    );
    const customerId = customer?.id as string;

    const portal = await system.request('POST', '/api/billing/portal', { key: admin, body: {} });
    expect(portal.status).toBe(200);
    expect(portal.json.url).toMatch(/\/portal\/bps_/);
    const noCustomer = await system.request('POST', '/api/billing/portal', {
      key: system.keys.globex,
      body: {},
    });
    expect(noCustomer.status).toBe(409);

    // Free until Stripe says otherwise
    await waitForLimit(admin, FREE_LIMIT);
    const now = Math.floor(Date.now() / 1000);
    const completed = stripe.signedEvent(
      'checkout.session.completed',
      {
        id: session?.id,
        object: 'checkout.session',
        customer: customerId,
        client_reference_id: acme,
        subscription: 'sub_e2e_1',
        metadata: { orgId: acme },
      },
      { created: now },
    );
    const created = stripe.signedEvent(
      'customer.subscription.created',
      subscription(acme, customerId),
      { created: now },
    );
    expect((await deliver(completed)).status).toBe(200);
    const ok = await deliver(created);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: true, eventId: created.id, duplicate: false });
    await waitForLimit(admin, PRO_LIMIT);
    const sub = await system.request('GET', '/api/billing/subscription', {
      key: system.keys.acmeMember,
    });
    expect(sub.json).toMatchObject({ plan: 'PRO', status: 'active', cancelAtPeriodEnd: false });

    // another organization sees its own (none), never acme's
    const other = await system.request('GET', '/api/billing/subscription', {
      key: system.keys.globex,
    });
    expect(other.json).toMatchObject({ plan: 'FREE', status: 'none' });

    // the same event again: 200, a no-op
    const again = await deliver(created);
    expect(await again.json()).toEqual({ received: true, eventId: created.id, duplicate: true });

    // a newer update (cancel at period end), then an older one delivered late
    const newer = stripe.signedEvent(
      'customer.subscription.updated',
      subscription(acme, customerId, { cancel_at_period_end: true }),
      { created: now + 20 },
    );
    const older = stripe.signedEvent(
      'customer.subscription.updated',
      subscription(acme, customerId, { status: 'canceled' }),
      { created: now + 10 },
    );
    expect((await deliver(newer)).status).toBe(200);
    expect((await deliver(older)).status).toBe(200);
    const after = await system.request('GET', '/api/billing/subscription', { key: admin });
    expect(after.json).toMatchObject({ plan: 'PRO', status: 'active', cancelAtPeriodEnd: true });
    const stored = await system.db
      .selectFrom('stripe_events')
      .select(['id', 'outcome'])
      .where('id', '=', older.id)
      .executeTakeFirstOrThrow();
    expect(stored.outcome).toBe('stale');
    expect(await policyOf(admin)).toContain(`q=${PRO_LIMIT};`);

    // a bad signature and a missing one: 400, nothing stored, each audited as refused
    const forged = stripe.signedEvent(
      'customer.subscription.deleted',
      subscription(acme, customerId, { status: 'canceled' }),
      { secret: 'whsec_not_ours' },
    );
    const forgedAnswer = await deliver(forged);
    expect(forgedAnswer.status).toBe(400);
    expect(((await forgedAnswer.json()) as { code: string }).code).toBe(
      'WEBHOOK_SIGNATURE_INVALID',
    );
    expect((await deliver({ payload: forged.payload })).status).toBe(400);
    expect(
      await system.db
        .selectFrom('stripe_events')
        .select('id')
        .where('id', '=', forged.id)
        .execute(),
    ).toEqual([]);
    const refusedRows = await audits('unverified');
    expect(refusedRows).toHaveLength(2);
    expect(refusedRows.every((r) => r.status === 'REJECTED')).toBe(true);
    expect((await audits(created.id)).map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED']);
    expect(
      (await system.request('GET', '/api/billing/subscription', { key: admin })).json.plan,
    ).toBe('PRO');

    // unknown types are stored and acknowledged
    const unknown = stripe.signedEvent('product.created', { id: 'prod_1', object: 'product' });
    expect((await deliver(unknown)).status).toBe(200);
    expect(
      (
        await system.db
          .selectFrom('stripe_events')
          .select('outcome')
          .where('id', '=', unknown.id)
          .executeTakeFirstOrThrow()
      ).outcome,
    ).toBe('ignored');

    // an unpaid invoice keeps Pro for the grace period, then the organization is Free
    const failed = stripe.signedEvent('invoice.payment_failed', {
      id: 'in_e2e_1',
      object: 'invoice',
      customer: customerId,
      status: 'open',
      status_transitions: { paid_at: null },
      parent: { subscription_details: { subscription: 'sub_e2e_1' } },
    });
    const failedAt = Date.now();
    expect((await deliver(failed)).status).toBe(200);
    expect(
      (await system.request('GET', '/api/billing/subscription', { key: admin })).json.plan,
    ).toBe('PRO');
    await waitForLimit(admin, FREE_LIMIT);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(GRACE_MS - 1000);
    const downgraded = await system.request('GET', '/api/billing/subscription', { key: admin });
    expect(downgraded.json).toMatchObject({ plan: 'FREE', status: 'active' });
    expect(downgraded.json.pastDueSince).not.toBeNull();

    // the operator's view and the price table
    expect(await system.heady(['billing', 'show', 'acme'])).toMatchObject({
      plan: 'FREE',
      subscription: { status: 'active', plan: 'FREE', cancelAtPeriodEnd: true },
      budget: null,
    });
    // replaying a stored event is a no-op; forced, it is applied again under the ordering
    // rules (stale: a newer update is stored) and the stored copy is kept aside
    const replayEnv = { STRIPE_WEBHOOK_SECRET: stripe.webhookSecret };
    const gateway = ['--gateway', system.gatewayUrl];
    expect(await system.heady(['billing', 'replay', created.id, ...gateway], replayEnv)).toEqual({
      received: true,
      eventId: created.id,
      duplicate: true,
    });
    expect(
      await system.heady(['billing', 'replay', created.id, '--force', ...gateway], replayEnv),
    ).toMatchObject({ duplicate: false });
    const copies = await system.db
      .selectFrom('stripe_events')
      .select(['id', 'outcome'])
      .where('id', 'like', `${created.id}%`)
      .orderBy('id')
      .execute();
    expect(copies.map((c) => c.outcome)).toEqual(['stale', 'applied']);
    expect(
      (await system.request('GET', '/api/billing/subscription', { key: admin })).json.plan,
    ).toBe('FREE');
    await system.heady(['billing', 'prices', 'set', 'openai', 'gpt-e2e', '0.5', '1.5']);
    expect(await system.heady(['billing', 'prices'])).toContainEqual({
      provider: 'openai',
      model: 'gpt-e2e',
      inputUsdPerMtok: 0.5,
      outputUsdPerMtok: 1.5,
    });
  });
});
