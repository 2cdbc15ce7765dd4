import { startFakeModelServer, type FakeModelServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';

// The official `openai` client against the running gateway's /v1: each call is a run that
// the workers answer from a fake OpenAI-compatible provider (scripted here).
const fake: FakeModelServer = await startFakeModelServer();

describe('/v1: the OpenAI API, with the official client', () => {
  const system = withSystem({
    database: 'heady_e2e_openai',
    // every service as its own NATS user: the live token subject must be granted end to end
    natsAuth: true,
    services: ['conductor', 'pipeline', 'gateway', 'workers'],
    env: {
      HEADY_PROVIDERS: JSON.stringify([
        {
          name: 'primary',
          kind: 'openai-compatible',
          baseUrl: fake.openaiBaseURL,
          model: 'fake-1',
        },
      ]),
    },
    keys: { globex: { org: 'globex', plan: 'PRO', role: 'admin' } },
  });
  afterAll(() => fake.close());

  const client = (key = system.credentials.admin.key) =>
    new OpenAI({ apiKey: key, baseURL: `${system.gatewayUrl}/v1`, maxRetries: 0 });

  it('lists heady and one model per service group', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toContain('heady');
    expect(ids).toContain('heady-reasoning');
    expect(ids).toContain('heady-embedding');
  });

  it('answers a chat completion as a run of the caller’s organization', async () => {
    fake.respond(() => ({ tokens: ['Paris', ' is', ' the', ' capital.'] }));
    const { data, response } = await client()
      .chat.completions.create({
        model: 'heady',
        messages: [
          { role: 'system', content: 'Answer briefly.' },
          { role: 'user', content: 'What is the capital of France?' },
        ],
        max_tokens: 20,
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toBe('Paris is the capital.');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.model).toBe('fake-1');
    expect(data.usage!.total_tokens).toBe(
      data.usage!.prompt_tokens + data.usage!.completion_tokens,
    );
    const runId = response.headers.get('heady-run-id')!;
    expect(data.id).toBe(`chatcmpl-${runId}`);
    // the provider saw the conversation and the token budget
    const call = fake.requests.find((r) => r.taskId?.startsWith(runId));
    expect(call?.body?.max_tokens ?? call?.body?.max_completion_tokens).toBe(20);
    // the run is the caller's: listed for it, invisible to another organization
    const own = await fetch(`${system.gatewayUrl}/api/runs/${runId}`, {
      headers: { authorization: `Bearer ${system.credentials.admin.key}` },
    });
    expect(((await own.json()) as { action: string }).action).toBe('chat');
    const other = await fetch(`${system.gatewayUrl}/api/runs/${runId}`, {
      headers: { authorization: `Bearer ${system.keys.globex}` },
    });
    expect(other.status).toBe(404);
  });

  it('streams the tokens as the provider writes them, then the finish reason and usage', async () => {
    fake.respond(() => ({ tokens: ['One', ' two', ' three', ' four.'], tokenDelayMs: 150 }));
    const stream = await client().chat.completions.create({
      model: 'heady-reasoning',
      messages: [{ role: 'user', content: 'Count to four.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage: { total_tokens: number } | undefined;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta.content) deltas.push(c.delta.content);
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.join('')).toBe('One two three four.');
    // live, not one block at the end: the provider's deltas arrive as deltas
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    expect(finish).toBe('stop');
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('embeds texts through the embedding group', async () => {
    const res = await client().embeddings.create({
      model: 'heady-embedding',
      input: ['first text', 'second text'],
    });
    expect(res.data).toHaveLength(2);
    expect(res.data[1]!.index).toBe(1);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
  });

  it('switches providers at run time: `heady providers set` and `rm` reach the running workers', async () => {
    const ask = async () =>
      (
        await client().chat.completions.create({
          model: 'heady',
          messages: [{ role: 'user', content: 'Which provider answers? It is a test.' }],
        })
      ).model;
    const listed = (await system.heady(['providers', 'ls'])) as { name: string; kind: string }[];
    expect(listed.map((p) => [p.name, p.kind])).toEqual([['primary', 'openai-compatible']]);
    expect(await ask()).toBe('fake-1');
    // `test` asks the provider from the operator's machine, as a worker would
    fake.respond(() => ({ tokens: ['pong'] }));
    const tested = (await system.heady(['providers', 'test', 'primary', '--message', 'ping'])) as {
      model: string;
      text: string;
    };
    expect(tested).toMatchObject({ model: 'fake-1', text: 'pong' });

    // an operator puts the offline provider first; the workers pick it up within seconds
    await system.heady(['providers', 'set', 'offline', '--kind', 'local', '--position', '1']);
    const deadline = Date.now() + 15_000;
    let model = await ask();
    while (model !== 'heady-local-extractive' && Date.now() < deadline) model = await ask();
    expect(model).toBe('heady-local-extractive');

    await system.heady(['providers', 'rm', 'offline']);
    const back = Date.now() + 15_000;
    model = await ask();
    while (model !== 'fake-1' && Date.now() < back) model = await ask();
    expect(model).toBe('fake-1');
    // each change is in the audit log
    const audited = await system.db
      .selectFrom('audit_logs')
      .select('action')
      .where('target', '=', 'offline')
      .execute();
    expect(audited.map((a) => a.action).sort()).toEqual(['PROVIDER_REMOVED', 'PROVIDER_SET']);
  }, 60_000);

  it('keeps a provider within its requests per minute, shared by the workers, and falls back past it', async () => {
    const before = fake.requests.length;
    await system.heady(['providers', 'set', 'spare', '--kind', 'local']);
    await system.heady(['providers', 'set', 'primary', '--rpm', '3']);
    const ask = async () => {
      const { data, response } = await client()
        .chat.completions.create({
          model: 'heady',
          messages: [{ role: 'user', content: 'Count me. It is a test.' }],
        })
        .withResponse();
      return { model: data.model, runId: response.headers.get('heady-run-id') ?? '' };
    };
    // until the workers load the budget (within seconds), primary answers without one
    const deadline = Date.now() + 20_000;
    let got = await ask();
    while (got.model !== 'heady-local-extractive' && Date.now() < deadline) got = await ask();
    expect(got.model).toBe('heady-local-extractive');
    const spentAt = fake.requests.length;
    // within the same minute, every next chat goes to the fallback and primary hears nothing
    for (let i = 0; i < 3; i++) expect((await ask()).model).toBe('heady-local-extractive');
    expect(fake.requests.length).toBe(spentAt);
    expect(spentAt - before).toBeGreaterThanOrEqual(3);
    const run = await (
      await fetch(`${system.gatewayUrl}/api/runs/${got.runId}`, {
        headers: { authorization: `Bearer ${system.credentials.admin.key}` },
      })
    ).json();
    expect(
      (run as { result: { recovery: { throttled: string[] } } }).result.recovery.throttled,
    ).toEqual(['primary']);
    const listed = (await system.heady(['providers', 'ls'])) as { name: string; rpm?: number }[];
    expect(listed.find((p) => p.name === 'primary')?.rpm).toBe(3);
    await system.heady(['providers', 'set', 'primary', '--rpm', '0']);
    await system.heady(['providers', 'rm', 'spare']);
  }, 60_000);

  it('shows Heady’s errors as OpenAI errors: an unknown model, a bad body, a plan without chat', async () => {
    const unknown = await client()
      .chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).message).toMatch(
      /model `gpt-9` does not exist/,
    );
    const bad = await client()
      .chat.completions.create({ model: 'heady', messages: [] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    const free = await client(system.credentials.demo.key)
      .chat.completions.create({ model: 'heady', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(free).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const anonymous = await client('hk_not_a_key')
      .models.list()
      .catch((e: unknown) => e);
    expect(anonymous).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
