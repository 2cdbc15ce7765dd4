import { randomUUID } from 'node:crypto';
import { createLogger } from '@heady/telemetry';
import { eventually } from '@heady/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerBoard, breakersKey, type SharedBreaker } from '../src/providers/breaker-board.js';

// Two workers processes' boards on the real Redis: what one finds, the other honours.
describe(BreakerBoard.name, () => {
  const prefix = `heady-test:${randomUUID().slice(0, 8)}:`;
  const log = createLogger({ service: 'workers', instanceId: 'test', logLevel: 'silent' });
  const conns: Redis[] = [];
  const redis = () => {
    const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    conns.push(r);
    return r;
  };
  const calls: Record<string, string[]> = { a: [], b: [] };
  const board = (name: 'a' | 'b', halfOpenAfterMs = 60_000) =>
    new BreakerBoard(
      redis(),
      redis(),
      prefix,
      `workers-${name}`,
      halfOpenAfterMs,
      {
        hold: (p) => calls[name]!.push(`hold ${p}`),
        release: (p) => calls[name]!.push(`release ${p}`),
      },
      log,
    );
  let a: BreakerBoard;
  let b: BreakerBoard;
  const shared = async (p: string) =>
    JSON.parse((await conns[0]!.hget(breakersKey(prefix), p)) ?? 'null') as SharedBreaker | null;

  beforeAll(async () => {
    a = board('a');
    b = board('b');
    await a.start(['primary', 'local']);
    await b.start(['primary', 'local']);
  });
  afterAll(async () => {
    a.stop();
    b.stop();
    await conns[0]!.del(breakersKey(prefix));
    for (const c of conns) c.disconnect();
  });

  it('records every provider closed at start', async () => {
    expect(await shared('primary')).toMatchObject({ state: 'closed', until: null });
    expect(await shared('local')).toMatchObject({ state: 'closed' });
  });

  it('holds a provider open in the other process when one opens its breaker, and lets go when it closes', async () => {
    a.changed('primary', 'open');
    await eventually(() => calls.b!.includes('hold primary'));
    expect(b.holds('primary')).toBe(true);
    expect(calls.a).toEqual([]); // its own finding is not echoed back to it
    const s = await shared('primary');
    expect(s).toMatchObject({ state: 'open', instance: 'workers-a' });
    expect(s!.until! - s!.since).toBe(60_000);

    // the hold's own state changes in b are not b's findings: nothing is shared for them
    b.changed('primary', 'isolated');
    expect((await shared('primary'))?.instance).toBe('workers-a');

    a.changed('primary', 'closed');
    await eventually(() => calls.b!.includes('release primary'));
    expect(b.holds('primary')).toBe(false);
    expect(await shared('primary')).toMatchObject({ state: 'closed', instance: 'workers-a' });
  });

  it("lets go of a hold at the opener's half-open time, and a late starter honours an open breaker", async () => {
    const quick = board('a', 300);
    await quick.start([]);
    calls.b = [];
    quick.changed('local', 'open');
    await eventually(() => calls.b!.includes('hold local'));
    const late = board('b');
    await late.start(['local']);
    expect(late.holds('local')).toBe(true);
    await eventually(() => calls.b!.filter((c) => c === 'release local').length === 2, 5_000);
    quick.stop();
    late.stop();
  });
});
