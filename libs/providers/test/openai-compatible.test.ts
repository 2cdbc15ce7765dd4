import { type FakeModelServer, startFakeModelServer } from '@heady/testing/fake-model-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenAICompatibleProvider, ProviderError, type ChatStreamEvent } from '../src/index.js';

const API_KEY = 'sk-test-secret-key-123';
const messages = [{ role: 'user' as const, content: 'Say hello' }];

async function collect(it: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

describe(OpenAICompatibleProvider.name, () => {
  let fake: FakeModelServer;
  let provider: OpenAICompatibleProvider;

  beforeAll(async () => {
    fake = await startFakeModelServer();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.respond(() => ({}));
    provider = new OpenAICompatibleProvider({
      name: 'primary',
      baseURL: fake.openaiBaseURL,
      apiKey: API_KEY,
      model: 'gpt-fake',
      timeoutMs: 5_000,
    });
  });

  it('answers a chat with the text, model, usage and finish reason the server sent', async () => {
    fake.enqueue({ tokens: ['Hi', ' there'] });
    const r = await provider.chat({
      messages,
      taskId: 'task-chat',
      temperature: 0.2,
      maxTokens: 50,
    });
    expect(r).toMatchObject({
      text: 'Hi there',
      model: 'gpt-fake',
      provider: 'primary',
      finishReason: 'stop',
      usage: { promptTokens: 2, completionTokens: 2, source: 'provider' },
    });
    const sent = fake.requests.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent.body).toMatchObject({
      model: 'gpt-fake',
      temperature: 0.2,
      max_tokens: 50,
      stream: false,
    });
    expect(fake.calls('task-chat')).toBe(1);
  });

  it('counts tokens itself when the server reports no usage', async () => {
    fake.enqueue({ tokens: ['one', ' two', ' three'], omitUsage: true });
    const r = await provider.chat({ messages });
    expect(r.usage.source).toBe('tokenizer');
    expect(r.usage.completionTokens).toBe(provider.countTokens('one two three'));
    expect(r.usage.promptTokens).toBe(provider.countTokens(messages));
  });

  it('streams token deltas, then one done event with the whole text and usage', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c'], tokenDelayMs: 5 });
    const events = await collect(provider.stream({ messages, user: 'user-7' }));
    expect(events.filter((e) => e.type === 'delta').map((e) => e.text)).toEqual(['a', 'b', 'c']);
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      text: 'abc',
      finishReason: 'stop',
      usage: { completionTokens: 3, source: 'provider' },
    });
    expect(fake.calls('user-7')).toBe(1);
  });

  it('embeds texts into one vector per text, in order', async () => {
    const r = await provider.embed({ texts: ['a b c', 'hello'] });
    expect(r.vectors.map((v) => Array.from(v))).toEqual([
      [5, 3, 1],
      [5, 1, 1],
    ]);
    expect(r.usage).toEqual({ promptTokens: 4, completionTokens: 0, source: 'provider' });
  });

  it('turns a 429 into rate_limited carrying Retry-After in ms', async () => {
    fake.enqueue({ status: 429, retryAfter: '7' });
    const e = await failure(provider.chat({ messages }));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(7_000);
    expect(e.status).toBe(429);
  });

  it('turns a 500 into unavailable, naming neither the URL nor the key', async () => {
    fake.enqueue({ status: 500 });
    const e = await failure(provider.chat({ messages }));
    expect(e.kind).toBe('unavailable');
    expect(e.message).not.toContain('127.0.0.1');
    expect(e.message).not.toContain(API_KEY);
    expect(String((e.cause as Error).message)).not.toContain(API_KEY);
  });

  it('turns a 401 into auth and a 400 into bad_request', async () => {
    fake.enqueue({ status: 401 }, { status: 400 });
    expect((await failure(provider.chat({ messages }))).kind).toBe('auth');
    expect((await failure(provider.chat({ messages }))).kind).toBe('bad_request');
  });

  it('gives up on a hanging server at the deadline, with timeout, and drops the request', async () => {
    fake.enqueue({ hang: true });
    const before = fake.aborted().length;
    const e = await failure(provider.chat({ messages, timeoutMs: 200 }));
    expect(e.kind).toBe('timeout');
    await fake.waitForAborted(before + 1);
  });

  it('aborts the HTTP request when the caller aborts, with aborted', async () => {
    fake.enqueue({ hang: true });
    const before = fake.aborted().length;
    const ctl = new AbortController();
    const call = provider.chat({ messages, signal: ctl.signal, taskId: 'task-abort' });
    await expect.poll(() => fake.calls('task-abort')).toBe(1);
    ctl.abort();
    expect((await failure(call)).kind).toBe('aborted');
    const aborted = await fake.waitForAborted(before + 1);
    expect(aborted.at(-1)?.taskId).toBe('task-abort');
  });

  it('aborts a stream midway: the server sees the client go away', async () => {
    fake.enqueue({ tokens: Array.from({ length: 50 }, (_, i) => `t${i} `), tokenDelayMs: 50 });
    const before = fake.aborted().length;
    const ctl = new AbortController();
    const seen: string[] = [];
    const e = await failure(
      (async () => {
        for await (const ev of provider.stream({ messages, signal: ctl.signal })) {
          if (ev.type === 'delta') seen.push(ev.text);
          if (seen.length === 2) ctl.abort();
        }
      })(),
    );
    expect(e.kind).toBe('aborted');
    expect(seen).toHaveLength(2);
    await fake.waitForAborted(before + 1);
  });

  it('says unavailable when nothing listens, without the URL', async () => {
    const gone = await startFakeModelServer();
    await gone.close();
    const p = new OpenAICompatibleProvider({ baseURL: gone.openaiBaseURL, model: 'm' });
    const e = await failure(p.chat({ messages }));
    expect(e.kind).toBe('unavailable');
    expect(e.message).not.toContain('127.0.0.1');
  });
});
