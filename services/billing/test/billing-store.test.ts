import { loadBillingConfig } from '@heady/config';
import { createDb, type Database, ensureOrganization, type Kysely } from '@heady/db';
import {
  createTestDatabase,
  type FakeStripeServer,
  startFakeStripeServer,
  type TestDatabase,
} from '@heady/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StripeRepository } from '../src/stripe/stripe.repository.js';
import { BillingStoreRepository } from '../src/webhooks/billing-store.repository.js';
import { decide } from '../src/webhooks/subscription-state.js';

const GRACE = 60_000;

describe(BillingStoreRepository.name, () => {
  let pg: TestDatabase;
  let db: Kysely<Database>;
  let store: BillingStoreRepository;
  let stripe: FakeStripeServer;
  let sdk: StripeRepository;

  beforeAll(async () => {
    pg = await createTestDatabase('heady_billing_store');
    db = createDb({ url: pg.url, poolMax: 8 });
    store = new BillingStoreRepository(db);
    stripe = await startFakeStripeServer();
    sdk = new StripeRepository(
      loadBillingConfig({
        NODE_ENV: 'test',
        STRIPE_SECRET_KEY: stripe.secretKey,
        HEADY_STRIPE_API_URL: stripe.url,
        STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      }),
    );
  });

  afterAll(async () => {
    await stripe?.close();
    await db?.destroy();
    await pg?.drop();
  });

  const snapshot = (version: number, status = 'active') => ({
    kind: 'snapshot' as const,
    subscriptionId: 'sub_1',
    pricePlan: 'PRO' as const,
    status,
    currentPeriodStart: null,
    currentPeriodEnd: null,
    cancelAtPeriodEnd: false,
    version,
  });

  it('stores concurrent deliveries of many events once each and ends at the newest state', async () => {
    const org = await ensureOrganization(db, 'concurrent', 'FREE');
    const base = Math.floor(Date.now() / 1000) - 30;
    // 20 distinct events, each delivered twice, all at once, in scrambled order
    const events = Array.from({ length: 20 }, (_, i) => ({
      id: `evt_c_${i}`,
      created: new Date((base + i) * 1000),
      status: i === 19 ? 'past_due' : 'active',
    }));
    const deliveries = [...events, ...events].sort(() => Math.random() - 0.5);
    const now = new Date();
    const results = await Promise.all(
      deliveries.map((e) =>
        store.record(
          {
            id: e.id,
            type: 'customer.subscription.updated',
            created: e.created,
            livemode: false,
            payload: { id: e.id },
          },
          {
            orgId: org.id,
            now,
            decide: (current) => decide(current, org.id, snapshot(base, e.status), e, now, GRACE),
          },
        ),
      ),
    );
    expect(results.filter((r) => r.duplicate)).toHaveLength(20);
    const rows = await db
      .selectFrom('stripe_events')
      .select('id')
      .where('org_id', '=', org.id)
      .execute();
    expect(rows).toHaveLength(20);
    const s = await store.subscription(org.id);
    expect(s).toMatchObject({ sourceEventId: 'evt_c_19', status: 'past_due', plan: 'PRO' });
    // Free → Pro is one plan change, whatever order the events came in
    const outbox = await db
      .selectFrom('billing_tier_outbox')
      .selectAll()
      .where('org_id', '=', org.id)
      .execute();
    expect(outbox.map((o) => [o.previous_plan, o.plan])).toEqual([['FREE', 'PRO']]);
  });

  it('drops subscriptions past their grace period to Free once, with one plan change each', async () => {
    const org = await ensureOrganization(db, 'unpaid', 'PRO');
    const now = new Date();
    const ev = { id: 'evt_unpaid', created: new Date(now.getTime() - 2 * GRACE) };
    await store.record(
      { ...ev, type: 'customer.subscription.updated', livemode: false, payload: {} },
      {
        orgId: org.id,
        now,
        decide: (c) => decide(c, org.id, snapshot(1, 'past_due'), ev, ev.created, GRACE),
      },
    );
    const [a, b] = await Promise.all([
      store.expireGrace(now, GRACE),
      store.expireGrace(now, GRACE),
    ]);
    const mine = [...(a ?? []), ...(b ?? [])].filter((c) => c.orgId === org.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ plan: 'FREE', previousPlan: 'PRO' });
    expect((await store.subscription(org.id))?.plan).toBe('FREE');
    expect(await store.expireGrace(now, GRACE)).toEqual([]);
    const pending = (await store.pendingTierChanges()).filter((c) => c.orgId === org.id);
    expect(pending.map((c) => c.plan)).toEqual(['FREE']);
    await store.markPublished(pending[0]?.id ?? '');
    expect((await store.pendingTierChanges()).filter((c) => c.orgId === org.id)).toEqual([]);
  });

  it('ignores events of organizations it cannot find, storing them all the same', async () => {
    const r = await store.record(
      { id: 'evt_nobody', type: 'invoice.paid', created: new Date(), livemode: false, payload: {} },
      { orgId: undefined, now: new Date() },
    );
    expect(r).toEqual({ duplicate: false, outcome: 'ignored', tierChange: undefined });
  });

  it('creates a customer once per idempotency key through the SDK, and verifies signatures', async () => {
    const a = await sdk.createCustomer('org-1', 'acme', 0);
    const b = await sdk.createCustomer('org-1', 'acme', 0);
    expect(b).toBe(a);
    expect(await sdk.createCustomer('org-1', 'acme', 1)).not.toBe(a);
    const ok = stripe.signedEvent('invoice.paid', { id: 'in_1', object: 'invoice' });
    expect(sdk.verify(ok.payload, ok.signature).id).toBe(ok.id);
    expect(() => sdk.verify(ok.payload.replace('in_1', 'in_2'), ok.signature)).toThrow(
      /Stripe-Signature/,
    );
    const old = stripe.signedEvent('invoice.paid', { id: 'in_1' }, { created: 1 });
    expect(sdk.verify(old.payload, old.signature).created).toBe(1); // the event's created is not the signature's time
    expect(() => sdk.verify(ok.payload, undefined)).toThrow(/no Stripe-Signature/);
  });
});
