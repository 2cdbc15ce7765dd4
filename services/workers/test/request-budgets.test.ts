import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RequestBudgets } from '../src/providers/request-budgets.js';

// Two workers processes' budgets on the real Redis: together they spend one provider's rpm.
describe(RequestBudgets.name, () => {
  const prefix = `heady-test:${randomUUID().slice(0, 8)}:`;
  const conns: Redis[] = [];
  const redis = (url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') => {
    const r = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
    r.on('error', () => undefined);
    conns.push(r);
    return r;
  };
  afterAll(async () => {
    const keys = await conns[0]!.keys(`${prefix}*`);
    if (keys.length) await conns[0]!.del(...keys);
    for (const c of conns) c.disconnect();
  });

  const ready = async (r: Redis) => {
    if (r.status !== 'ready') await new Promise((resolve) => r.once('ready', resolve));
    return r;
  };

  it('lets two processes together send a provider no more than its requests per minute', async () => {
    const a = new RequestBudgets(await ready(redis()), prefix).of('primary', 5);
    const b = new RequestBudgets(await ready(redis()), prefix).of('primary', 5);
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await a.take(), await b.take());
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    // the refused ones say how long until the window turns, within the minute
    for (const w of waits.slice(5)) {
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(60_000);
    }
  });

  it('keeps providers apart, and a changed rpm is a new budget', async () => {
    const budgets = new RequestBudgets(await ready(redis()), prefix);
    const other = budgets.of('other', 1);
    expect(await other.take()).toBe(0);
    expect(await other.take()).toBeGreaterThan(0);
    expect(budgets.of('other', 1)).toBe(other);
    expect(budgets.of('other', 3)).not.toBe(other);
  });

  it('counts alone when Redis cannot be reached, instead of refusing every call', async () => {
    // nothing listens on port 1: the insurance limiter in memory answers
    const budget = new RequestBudgets(redis('redis://127.0.0.1:1'), prefix).of('primary', 2);
    expect(await budget.take()).toBe(0);
    expect(await budget.take()).toBe(0);
    expect(await budget.take()).toBeGreaterThan(0);
  });
});
