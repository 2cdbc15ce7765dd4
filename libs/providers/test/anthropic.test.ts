import { type FakeModelServer, startFakeModelServer } from '@heady/testing/fake-model-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicProvider, type ChatStreamEvent } from '../src/index.js';

const API_KEY = 'sk-ant-test-secret';

describe(AnthropicProvider.name, () => {
  let fake: FakeModelServer;
  let provider: AnthropicProvider;

  beforeAll(async () => {
    fake = await startFakeModelServer();
    provider = new AnthropicProvider({
      name: 'claude',
      apiKey: API_KEY,
      model: 'claude-fake',
      baseURL: fake.anthropicBaseURL,
      timeoutMs: 5_000,
    });
  });
  afterAll(() => fake.close());

  it('answers a chat, moving system messages and context into `system`', async () => {
    fake.enqueue({ tokens: ['Bonjour', '!'] });
    const r = await provider.chat({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello in French' },
      ],
      context: [{ source: 'doc-1', text: 'French greets with bonjour.' }],
      taskId: 'task-a',
      maxTokens: 20,
    });
    expect(r).toMatchObject({
      text: 'Bonjour!',
      model: 'claude-fake',
      provider: 'claude',
      finishReason: 'stop',
      usage: { completionTokens: 2, source: 'provider' },
    });
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    // SDK 1.x sends the key as a bearer token, older ones as x-api-key
    expect([sent.headers['x-api-key'], sent.headers.authorization]).toContainEqual(
      expect.stringContaining(API_KEY),
    );
    expect(sent.body?.max_tokens).toBe(20);
    expect(sent.body?.system).toContain('Be brief.');
    expect(sent.body?.system).toContain('French greets with bonjour.');
    expect(sent.body?.messages).toEqual([{ role: 'user', content: 'Say hello in French' }]);
    expect(fake.calls('task-a')).toBe(1);
  });

  it('streams text deltas, then done with usage and finish reason', async () => {
    fake.enqueue({ tokens: ['x', 'y', 'z'], tokenDelayMs: 5 });
    const events: ChatStreamEvent[] = [];
    for await (const ev of provider.stream({ messages: [{ role: 'user', content: 'go' }] }))
      events.push(ev);
    expect(events.filter((e) => e.type === 'delta').map((e) => e.text)).toEqual(['x', 'y', 'z']);
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      text: 'xyz',
      finishReason: 'stop',
      usage: { promptTokens: 1, completionTokens: 3, source: 'provider' },
    });
  });

  it('turns a 429 into rate_limited with retryAfterMs, without the key in the message', async () => {
    fake.enqueue({ status: 429, retryAfter: '2' });
    const e = await provider
      .chat({ messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'rate_limited', retryAfterMs: 2_000, provider: 'claude' });
    expect((e as Error).message).not.toContain(API_KEY);
  });

  it('turns a 500 into unavailable, and a hang past the deadline into timeout', async () => {
    fake.enqueue({ status: 500 }, { hang: true });
    const before = fake.aborted().length;
    await expect(
      provider.chat({ messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(
      provider.chat({ messages: [{ role: 'user', content: 'hi' }], timeoutMs: 200 }),
    ).rejects.toMatchObject({ kind: 'timeout' });
    await fake.waitForAborted(before + 1);
  });

  it('aborts the request at the server when the caller aborts', async () => {
    fake.enqueue({ hang: true });
    const before = fake.aborted().length;
    const ctl = new AbortController();
    const call = provider.chat({
      messages: [{ role: 'user', content: 'hi' }],
      signal: ctl.signal,
      taskId: 'task-abort',
    });
    await expect.poll(() => fake.calls('task-abort')).toBe(1);
    ctl.abort();
    await expect(call).rejects.toMatchObject({ kind: 'aborted' });
    await fake.waitForAborted(before + 1);
  });

  it('has no embeddings: unsupported', async () => {
    await expect(provider.embed()).rejects.toMatchObject({ kind: 'unsupported' });
  });
});
