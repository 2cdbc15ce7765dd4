import { describe, expect, it } from 'vitest';
import {
  type SubscriptionFact,
  type SubscriptionState,
  decide,
  planInForce,
} from './subscription-state.js';

const ORG = '0b6c1f9e-3c1e-4d55-9a3e-9f0e5a1d2c3b';
const GRACE = 60_000;
const t = (s: number): Date => new Date(1_765_000_000_000 + s * 1000);

const snapshot = (
  over: Partial<Extract<SubscriptionFact, { kind: 'snapshot' }>> = {},
): SubscriptionFact => ({
  kind: 'snapshot',
  subscriptionId: 'sub_1',
  pricePlan: 'PRO',
  status: 'active',
  currentPeriodStart: t(0),
  currentPeriodEnd: t(30 * 86_400),
  cancelAtPeriodEnd: false,
  version: 100,
  ...over,
});

function applied(
  current: SubscriptionState | undefined,
  fact: SubscriptionFact,
  at: number,
  now = at,
): SubscriptionState {
  const d = decide(current, ORG, fact, { id: `evt_${at}`, created: t(at) }, t(now), GRACE);
  if (d.outcome !== 'applied') throw new Error(`not applied: ${d.outcome}`);
  return d.next;
}

describe(decide.name, () => {
  it('applies a first subscription with its price plan in force', () => {
    const s = applied(undefined, snapshot(), 10);
    expect(s).toMatchObject({
      plan: 'PRO',
      status: 'active',
      sourceAt: t(10),
      sourceEventId: 'evt_10',
    });
  });

  it('refuses an event older than the one stored, and one of the same second that is not newer', () => {
    const s = applied(undefined, snapshot({ cancelAtPeriodEnd: true }), 20);
    expect(
      decide(s, ORG, snapshot({ status: 'canceled' }), { id: 'e', created: t(10) }, t(30), GRACE)
        .outcome,
    ).toBe('stale');
    expect(
      decide(s, ORG, snapshot({ status: 'canceled' }), { id: 'e', created: t(20) }, t(30), GRACE)
        .outcome,
    ).toBe('stale');
    const newer = decide(
      s,
      ORG,
      snapshot({ status: 'canceled', version: 101 }),
      { id: 'e', created: t(20) },
      t(30),
      GRACE,
    );
    expect(newer.outcome).toBe('applied');
    expect(newer.next?.plan).toBe('FREE');
  });

  it('keeps the plan through the grace period after a failed invoice, then drops it to Free', () => {
    const s = applied(undefined, snapshot(), 10);
    const failed = applied(s, { kind: 'invoice-failed', subscriptionId: 'sub_1', at: t(20) }, 20);
    expect(failed).toMatchObject({ plan: 'PRO', pastDueSince: t(20) });
    expect(planInForce(failed, t(20 + GRACE / 1000 - 1), GRACE)).toBe('PRO');
    expect(planInForce(failed, t(20 + GRACE / 1000), GRACE)).toBe('FREE');
    // a second failure keeps the first one's start of grace
    const again = applied(
      failed,
      { kind: 'invoice-failed', subscriptionId: 'sub_1', at: t(50) },
      50,
      90,
    );
    expect(again).toMatchObject({ pastDueSince: t(20), plan: 'FREE' });
  });

  it('settles a failure with a later payment, and ignores a failure older than the payment', () => {
    const s = applied(undefined, snapshot(), 10);
    const failed = applied(s, { kind: 'invoice-failed', subscriptionId: 'sub_1', at: t(20) }, 20);
    const paid = applied(
      failed,
      { kind: 'invoice-paid', subscriptionId: 'sub_1', at: t(30) },
      30,
      200,
    );
    expect(paid).toMatchObject({ pastDueSince: null, lastPaidAt: t(30), plan: 'PRO' });
    expect(
      decide(
        paid,
        ORG,
        { kind: 'invoice-failed', subscriptionId: 'sub_1', at: t(25) },
        { id: 'x', created: t(25) },
        t(200),
        GRACE,
      ).outcome,
    ).toBe('stale');
  });

  it('ignores invoices of another subscription and drops a deleted customer to Free', () => {
    const s = applied(undefined, snapshot(), 10);
    expect(
      decide(
        s,
        ORG,
        { kind: 'invoice-failed', subscriptionId: 'sub_other', at: t(20) },
        { id: 'x', created: t(20) },
        t(20),
        GRACE,
      ).outcome,
    ).toBe('ignored');
    const gone = applied(s, { kind: 'customer-deleted' }, 30);
    expect(gone).toMatchObject({ plan: 'FREE', status: 'canceled' });
    expect(
      decide(gone, ORG, { kind: 'customer-deleted' }, { id: 'y', created: t(31) }, t(31), GRACE)
        .outcome,
    ).toBe('stale');
  });
});
