import { describe, expect, it } from 'vitest';
import { ProviderChain } from './chain.js';
import { ProviderError } from './errors.js';
import { LocalProvider } from './local/local-provider.js';
import { type ChatRequest, type ChatResult, type ModelProvider } from './types.js';

/** A provider whose chat fails with `kind` (or answers) as told, and can be held open. */
class ScriptedProvider extends LocalProvider implements ModelProvider {
  fail: ProviderError['kind'] | undefined;
  hold: Promise<void> | undefined;
  constructor(name: string) {
    super({ name });
  }
  override async chat(req: ChatRequest): Promise<ChatResult> {
    if (this.hold) await this.hold;
    if (this.fail) throw new ProviderError(this.fail, this.name, `${this.name}: ${this.fail}`);
    return super.chat(req);
  }
}

const req = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe(ProviderChain.name, () => {
  it('skips a provider forced open, and uses it again once forced closed', async () => {
    const a = new ScriptedProvider('a');
    const chain = new ProviderChain({ group: 'g', providers: [a, new ScriptedProvider('b')] });
    const seen: string[] = [];
    chain.onBreakerStateChange((p, s) => seen.push(`${p}:${s}`));

    chain.forceOpen('a');
    expect(chain.breakerStates()).toEqual({ a: 'isolated', b: 'closed' });
    expect((await chain.chat(req)).provider).toBe('b');

    chain.forceClose('a');
    expect(chain.breakerStates().a).toBe('closed');
    expect((await chain.chat(req)).provider).toBe('a');
    expect(seen).toEqual(['a:isolated', 'a:closed']);
  });

  it('closes a breaker that failures opened, when forced closed', async () => {
    const a = new ScriptedProvider('a');
    a.fail = 'unavailable';
    const chain = new ProviderChain({
      group: 'g',
      defaults: { failureThreshold: 1, halfOpenAfterMs: 60_000 },
      providers: [a, new ScriptedProvider('b')],
    });
    await chain.chat(req);
    expect(chain.breakerStates().a).toBe('open');
    a.fail = undefined;
    chain.forceClose('a');
    expect(chain.breakerStates().a).toBe('closed');
    expect((await chain.chat(req)).provider).toBe('a');
  });

  it('lets a trial call through once half-open, and closes on its success', async () => {
    const a = new ScriptedProvider('a');
    a.fail = 'timeout';
    const chain = new ProviderChain({
      group: 'g',
      defaults: { failureThreshold: 1, halfOpenAfterMs: 10 },
      providers: [a, new ScriptedProvider('b')],
    });
    expect((await chain.chat(req)).provider).toBe('b');
    expect(chain.breakerStates().a).toBe('open');
    a.fail = undefined;
    await new Promise((r) => setTimeout(r, 50));
    expect((await chain.chat(req)).provider).toBe('a');
    expect(chain.breakerStates().a).toBe('closed');
  });

  it('stops at bad_request without trying the next provider', async () => {
    const a = new ScriptedProvider('a');
    a.fail = 'bad_request';
    const chain = new ProviderChain({ group: 'g', providers: [a, new ScriptedProvider('b')] });
    await expect(chain.chat(req)).rejects.toMatchObject({
      kind: 'bad_request',
      attempts: [{ provider: 'a', outcome: 'failed', errorKind: 'bad_request' }],
    });
  });

  it('moves on when a provider is at its concurrency limit', async () => {
    const a = new ScriptedProvider('a');
    let open: () => void = () => undefined;
    a.hold = new Promise((r) => (open = r));
    const chain = new ProviderChain({
      group: 'g',
      providers: [{ provider: a, guard: { concurrency: 1 } }, new ScriptedProvider('b')],
    });
    const first = chain.chat(req);
    const second = await chain.chat(req);
    expect(second.provider).toBe('b');
    expect(second.attempts[0]).toEqual({ provider: 'a', outcome: 'busy' });
    open();
    expect((await first).provider).toBe('a');
  });

  it('rejects two providers with one name', () => {
    expect(
      () =>
        new ProviderChain({ group: 'g', providers: [new LocalProvider(), new LocalProvider()] }),
    ).toThrow(/unique/);
  });

  it('moves on from a provider whose request budget is spent, without calling it', async () => {
    const a = new ScriptedProvider('a');
    let left = 2;
    const budget = { take: () => Promise.resolve(left-- > 0 ? 0 : 1_500) };
    a.fail = undefined;
    const chain = new ProviderChain({
      group: 'g',
      providers: [{ provider: a, guard: { budget } }, new ScriptedProvider('b')],
    });
    const answered = [];
    for (let i = 0; i < 4; i++) answered.push((await chain.chat(req)).provider);
    expect(answered).toEqual(['a', 'a', 'b', 'b']);
    const last = await chain.chat(req);
    expect(last.attempts).toEqual([
      { provider: 'a', outcome: 'throttled', errorKind: 'rate_limited', retryAfterMs: 1_500 },
      { provider: 'b', outcome: 'answered' },
    ]);
    // the budget's trouble is not the provider's: its breaker stays closed
    expect(chain.breakerStates().a).toBe('closed');
  });

  it('says rate_limited with the shortest wait when every budget is spent', async () => {
    const spent = (ms: number) => ({ take: () => Promise.resolve(ms) });
    const chain = new ProviderChain({
      group: 'g',
      providers: [
        { provider: new ScriptedProvider('a'), guard: { budget: spent(4_000) } },
        { provider: new ScriptedProvider('b'), guard: { budget: spent(900) } },
      ],
    });
    await expect(chain.chat(req)).rejects.toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 900,
    });
  });

  it('takes nothing from the budget of a provider whose breaker is open', async () => {
    let taken = 0;
    const budget = {
      take: () => {
        taken += 1;
        return Promise.resolve(0);
      },
    };
    const chain = new ProviderChain({
      group: 'g',
      providers: [
        { provider: new ScriptedProvider('a'), guard: { budget } },
        new ScriptedProvider('b'),
      ],
    });
    chain.forceOpen('a');
    expect((await chain.chat(req)).provider).toBe('b');
    expect(taken).toBe(0);
  });
});
