import { type FakeModelServer, startFakeModelServer } from '@heady/testing/fake-model-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChainStreamEvent,
  LocalProvider,
  OpenAICompatibleProvider,
  ProviderChain,
  ProviderChainError,
} from '../src/index.js';

const messages = [{ role: 'user' as const, content: 'What about the steel tariff?' }];
const context = [{ source: 'report', text: 'The steel tariff rose to 25 percent.' }];

describe(ProviderChain.name, () => {
  let primary: FakeModelServer;
  let secondary: FakeModelServer;

  beforeAll(async () => {
    [primary, secondary] = await Promise.all([startFakeModelServer(), startFakeModelServer()]);
  });
  afterAll(() => Promise.all([primary.close(), secondary.close()]));
  beforeEach(() => {
    primary.respond(() => ({ tokens: ['from', ' primary'] }));
    secondary.respond(() => ({ tokens: ['from', ' secondary'] }));
  });

  const chain = (failureThreshold = 2): ProviderChain =>
    new ProviderChain({
      group: 'reasoning',
      defaults: { failureThreshold, halfOpenAfterMs: 60_000 },
      providers: [
        new OpenAICompatibleProvider({
          name: 'primary',
          baseURL: primary.openaiBaseURL,
          model: 'p',
        }),
        new OpenAICompatibleProvider({
          name: 'secondary',
          baseURL: secondary.openaiBaseURL,
          model: 's',
        }),
        new LocalProvider(),
      ],
    });

  it('falls back on 500s, opens the breaker, then skips the primary without calling it', async () => {
    const c = chain(2);
    primary.respond(() => ({ status: 500 }));
    for (let i = 0; i < 2; i++) {
      const r = await c.chat({ messages, taskId: `fallback-${i}` });
      expect(r.provider).toBe('secondary');
      expect(r.text).toBe('from secondary');
      expect(r.attempts).toEqual([
        { provider: 'primary', outcome: 'failed', errorKind: 'unavailable' },
        { provider: 'secondary', outcome: 'answered' },
      ]);
    }
    expect(c.breakerStates()).toEqual({ primary: 'open', secondary: 'closed', local: 'closed' });

    const r = await c.chat({ messages, taskId: 'skipped' });
    expect(r.provider).toBe('secondary');
    expect(r.attempts[0]).toEqual({ provider: 'primary', outcome: 'breaker_open' });
    expect(primary.calls('skipped')).toBe(0);
    expect(secondary.calls('skipped')).toBe(1);
  });

  it('moves on from a 429 without counting it toward the breaker', async () => {
    const c = chain(1);
    primary.respond(() => ({ status: 429, retryAfter: '5' }));
    const r = await c.chat({ messages });
    expect(r.provider).toBe('secondary');
    expect(r.attempts[0]).toEqual({
      provider: 'primary',
      outcome: 'failed',
      errorKind: 'rate_limited',
      retryAfterMs: 5_000,
    });
    expect(c.breakerStates().primary).toBe('closed');
  });

  it('ends at the local provider when both servers fail, quoting the context', async () => {
    const c = chain();
    primary.respond(() => ({ status: 503 }));
    secondary.respond(() => ({ hang: true }));
    const r = await c.chat({ messages, context, timeoutMs: 300 });
    expect(r.provider).toBe('local');
    expect(r.model).toBe('heady-local-extractive');
    expect(r.text).toContain('"The steel tariff rose to 25 percent." (source: report)');
    expect(r.attempts.map((a) => a.errorKind ?? a.outcome)).toEqual([
      'unavailable',
      'timeout',
      'answered',
    ]);
  });

  it('throws rate_limited with the shortest wait when every provider is rate limited', async () => {
    const c = new ProviderChain({
      group: 'coding',
      providers: [
        new OpenAICompatibleProvider({ name: 'a', baseURL: primary.openaiBaseURL, model: 'p' }),
        new OpenAICompatibleProvider({ name: 'b', baseURL: secondary.openaiBaseURL, model: 's' }),
      ],
    });
    primary.respond(() => ({ status: 429, retryAfter: '9' }));
    secondary.respond(() => ({ status: 429, retryAfter: '3' }));
    const e = await c.chat({ messages }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderChainError);
    expect(e).toMatchObject({ kind: 'rate_limited', retryAfterMs: 3_000, provider: 'coding' });
    expect((e as ProviderChainError).attempts).toHaveLength(2);
  });

  it('streams from the fallback when the primary fails before its first token', async () => {
    const c = chain();
    primary.respond(() => ({ status: 500 }));
    const events: ChainStreamEvent[] = [];
    for await (const ev of c.stream({ messages })) events.push(ev);
    const done = events.at(-1);
    expect(done).toMatchObject({ type: 'done', provider: 'secondary', text: 'from secondary' });
    expect(done?.type === 'done' && done.attempts.map((a) => a.outcome)).toEqual([
      'failed',
      'answered',
    ]);
  });

  it('stops at an aborted call, and the server sees the abort', async () => {
    const c = chain();
    primary.respond(() => ({ hang: true }));
    const before = primary.aborted().length;
    const ctl = new AbortController();
    const call = c.chat({ messages, signal: ctl.signal, taskId: 'chain-abort' });
    await expect.poll(() => primary.calls('chain-abort')).toBe(1);
    ctl.abort();
    await expect(call).rejects.toMatchObject({ kind: 'aborted' });
    await primary.waitForAborted(before + 1);
    expect(secondary.calls('chain-abort')).toBe(0);
  });
});
