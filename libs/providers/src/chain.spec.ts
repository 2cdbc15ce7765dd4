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
});
