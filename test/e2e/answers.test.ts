import { startFakeModelServer, type FakeModelServer } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, getRun, postRun, useApiKey, waitTerminal } from './helpers.js';

// Runs that do model work, end to end: the pipeline's execute sends the plan's tasks to the
// workers over the bus, the workers call a provider (a fake OpenAI-compatible server this
// test scripts, with the offline `local` provider as the fallback) and finalize stores the
// answer. Signing is on, every service is its own process.
const fake: FakeModelServer = await startFakeModelServer();
const EXECUTE_TIMEOUT_MS = 8_000;

describe('answers: execute, workers and providers', () => {
  const system = withSystem({
    database: 'heady_e2e_answers',
    services: ['conductor', 'pipeline', 'gateway', 'workers', 'vector-memory', 'knowledge-vault'],
    env: {
      HEADY_PROVIDERS: JSON.stringify([
        {
          name: 'primary',
          kind: 'openai-compatible',
          baseUrl: fake.openaiBaseURL,
          model: 'fake-1',
        },
        { name: 'local', kind: 'local' },
      ]),
      HEADY_EXECUTE_TIMEOUT_MS: String(EXECUTE_TIMEOUT_MS),
      // heartbeats (and the cancellation check) every second
      HEADY_STAGE_ACK_WAIT_MS: '3000',
      // a killed worker's tasks come back after 3 s
      HEADY_WORK_ACK_WAIT_MS: '3000',
    },
    keys: { globex: { org: 'globex', plan: 'PRO', role: 'admin' } },
  });

  beforeAll(() => useApiKey(system.credentials.admin.key));
  afterAll(() => fake.close());

  const callsOf = (runId: string) => fake.requests.filter((r) => r.taskId?.startsWith(runId));

  it('answers a chat synchronously with ?wait=true, from the provider, and keeps it from another organization', async () => {
    fake.respond(() => ({ tokens: ['Paris', ' is', ' the', ' capital.'] }));
    const res = await fetch(`${system.gatewayUrl}/api/brain/chat?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ message: 'What is the capital of France?' }),
    });
    expect(res.status).toBe(200);
    // 30 s asked, less than the gateway's 30 s request timeout granted
    expect(res.headers.get('preference-applied')).toBe('wait=29');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'SUCCEEDED',
      output: 'Paris is the capital.',
      model: 'fake-1',
    });
    const runId = body.runId as string;
    const view = await getRun(system.gatewayUrl, runId);
    expect(view.result.output).toBe('Paris is the capital.');
    const execution = view.result.execution as {
      tasks: { provider: string; promptTokens: number }[];
    };
    expect(execution.tasks).toHaveLength(1);
    expect(execution.tasks[0]!.provider).toBe('primary');
    expect(execution.tasks[0]!.promptTokens).toBeGreaterThan(0);
    // the provider got the conversation once, under the run's task id
    expect(callsOf(runId)).toHaveLength(1);
    expect(callsOf(runId)[0]!.body?.messages).toEqual([
      { role: 'user', content: 'What is the capital of France?' },
    ]);

    // another organization's key sees neither the run nor its answer
    const other = await fetch(`${system.gatewayUrl}/api/runs/${runId}`, {
      headers: { authorization: `Bearer ${system.keys.globex}` },
    });
    expect(other.status).toBe(404);
    const list = (await (
      await fetch(`${system.gatewayUrl}/api/runs`, {
        headers: { authorization: `Bearer ${system.keys.globex}` },
      })
    ).json()) as { items: { runId: string }[] };
    expect(list.items.map((r) => r.runId)).not.toContain(runId);
  });

  it("answers a chat from its organization's memory, attributed, and never from another organization's", async () => {
    const stored = await fetch(`${system.gatewayUrl}/api/memory/vectors`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({
        items: [
          { content: 'The Orion launch window opens on the ninth of March.' },
          { content: 'Invoices are paid within thirty days of receipt.' },
        ],
      }),
    });
    expect(stored.status).toBe(201);
    const [launchId] = ((await stored.json()) as { ids: string[] }).ids;
    fake.respond(() => ({ tokens: ['The ninth of March.'] }));
    const ask = async (authorization: Record<string, string>) => {
      const res = await fetch(`${system.gatewayUrl}/api/brain/chat?wait=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authorization },
        body: JSON.stringify({ message: 'When does the Orion launch window open?' }),
      });
      expect(res.status).toBe(200);
      const runId = ((await res.json()) as { runId: string }).runId;
      const view = await getRun(system.gatewayUrl, runId, authorization);
      return { runId, view };
    };

    const mine = await ask(authHeaders());
    const sources = mine.view.result.sources as { kind: string; id: string; score: number }[];
    expect(sources[0]).toMatchObject({ kind: 'memory', id: launchId });
    // the provider was handed the passage, attributed, before the question
    const sent = JSON.stringify(callsOf(mine.runId)[0]!.body?.messages);
    expect(sent).toContain('The Orion launch window opens on the ninth of March.');

    // the same question from another organization finds none of it
    const theirs = await ask({ authorization: `Bearer ${system.keys.globex}` });
    expect(theirs.view.result.sources).toEqual([]);
    expect(JSON.stringify(callsOf(theirs.runId)[0]!.body?.messages)).not.toContain(
      'ninth of March',
    );
  });

  it("answers a chat from its organization's vault documents, attributed, and never from another organization's", async () => {
    const stored = await fetch(`${system.gatewayUrl}/api/knowledge/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({
        documents: [
          {
            sourceId: 'handbook/expenses.md',
            title: 'Expenses handbook',
            content: "# Travel\nTrain tickets above ninety euros need a manager's approval.",
          },
        ],
      }),
    });
    expect(stored.status).toBe(201);
    const [receipt] = ((await stored.json()) as { receipts: { documentId: string }[] }).receipts;
    fake.respond(() => ({ tokens: ['Above ninety euros.'] }));
    const ask = async (authorization: Record<string, string>) => {
      const res = await fetch(`${system.gatewayUrl}/api/brain/chat?wait=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authorization },
        body: JSON.stringify({ message: 'Which train tickets need approval?' }),
      });
      expect(res.status).toBe(200);
      const runId = ((await res.json()) as { runId: string }).runId;
      return { runId, view: await getRun(system.gatewayUrl, runId, authorization) };
    };

    const mine = await ask(authHeaders());
    const sources = mine.view.result.sources as { kind: string; id: string; source: string }[];
    expect(sources).toContainEqual(
      expect.objectContaining({
        kind: 'knowledge',
        id: receipt!.documentId,
        source: 'Expenses handbook',
      }),
    );
    expect(JSON.stringify(callsOf(mine.runId)[0]!.body?.messages)).toContain('ninety euros');

    const theirs = await ask({ authorization: `Bearer ${system.keys.globex}` });
    expect(theirs.view.result.sources).toEqual([]);
    expect(JSON.stringify(callsOf(theirs.runId)[0]!.body?.messages)).not.toContain('ninety euros');
  });

  it('answers 202 without a wait, and a run with no model work calls no provider', async () => {
    const chat = await fetch(`${system.gatewayUrl}/api/brain/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ message: 'hello' }),
    });
    expect(chat.status).toBe(202);
    const plain = await postRun(system.gatewayUrl, { action: 'analyze', input: { n: 1 } });
    const [view] = await waitTerminal(system.gatewayUrl, [plain.body.runId as string]);
    expect(view!.status).toBe('SUCCEEDED');
    expect(view!.result.output).toBeNull();
    expect(callsOf(view!.runId)).toHaveLength(0);
  });

  it("streams a run's tokens on its events as `event: token`, and keeps the whole answer in run.succeeded's run", async () => {
    fake.respond(() => ({ tokens: ['Alpha', ' beta', ' gamma.'], tokenDelayMs: 200 }));
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { message: 'stream' } });
    const runId = res.body.runId as string;
    const events = await fetch(`${system.gatewayUrl}/api/runs/${runId}/events`, {
      headers: authHeaders(),
    });
    const text = await events.text();
    const tokens = [...text.matchAll(/event: token\ndata: (.*)\n/g)].map(
      (m) => JSON.parse(m[1]!) as { text: string; taskId: string },
    );
    expect(tokens.map((t) => t.text).join('')).toBe('Alpha beta gamma.');
    expect(tokens.every((t) => t.taskId === 'task-1')).toBe(true);
    expect(text).toContain('event: run.succeeded');
    // the durable history has no token: only the live stream carried them
    const [view] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(view!.result.output).toBe('Alpha beta gamma.');
  });

  it('runs 10 tasks with never more than 6 in flight, each called once', async () => {
    fake.respond(() => ({ latencyMs: 300 }));
    const before = fake.peakInFlight();
    expect(before).toBeLessThanOrEqual(6);
    const tasks = Array.from({ length: 10 }, (_, i) => ({ message: `question ${i}` }));
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { tasks } });
    const [view] = await waitTerminal(system.gatewayUrl, [res.body.runId as string]);
    expect(view!.status).toBe('SUCCEEDED');
    const runId = view!.runId;
    expect(fake.peakInFlight()).toBe(6);
    for (let i = 1; i <= 10; i++) expect(fake.calls(`${runId}:0:task-${i}`)).toBe(1);
    const output = view!.result.output as { taskId: string; text: string }[];
    expect(output.map((o) => o.taskId)).toEqual(tasks.map((_, i) => `task-${i + 1}`));
    expect(output.every((o) => o.text === 'Hello from the fake')).toBe(true);
  });

  it('loses no task and answers none twice when the workers process is SIGKILLed mid-run', async () => {
    fake.respond(() => ({ latencyMs: 1_500 }));
    const tasks = Array.from({ length: 10 }, (_, i) => ({ message: `slow question ${i}` }));
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { tasks } });
    const runId = res.body.runId as string;
    const until = Date.now() + 10_000;
    while (callsOf(runId).length < 6 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    const workers = system.stack.services.workers;
    await workers.kill('SIGKILL');
    const cut = new Set(callsOf(runId).map((r) => r.taskId));
    expect(cut.size).toBe(6);
    fake.respond(() => ({}));
    await workers.start();
    const [view] = await waitTerminal(system.gatewayUrl, [runId], 30_000);
    expect(view!.status).toBe('SUCCEEDED');
    // one answer per task, each recorded once; a task cut off mid-call was called again, no other
    const rows = await system.db
      .selectFrom('task_runs')
      .select(['task_id', 'status'])
      .where('run_id', '=', runId)
      .execute();
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    for (let i = 1; i <= 10; i++) {
      const id = `${runId}:0:task-${i}`;
      expect(fake.calls(id)).toBe(cut.has(id) ? 2 : 1);
    }
    const output = view!.result.output as { text: string }[];
    expect(output).toHaveLength(10);
  });

  it('cuts off a hanging provider at the execute timeout and compensates the run', async () => {
    fake.respond(() => ({ hang: true }));
    const abortedBefore = fake.aborted().length;
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { message: 'hang' } });
    const [view] = await waitTerminal(system.gatewayUrl, [res.body.runId as string], 30_000);
    expect(view!.status).toBe('COMPENSATED');
    const execute = view!.stages.find((s) => s.name === 'execute');
    expect(execute?.error).toMatch(/did not answer within 8000 ms|failed/);
    // the worker's HTTP request was abandoned, not left open
    await fake.waitForAborted(abortedBefore + 1, 10_000);
    expect(callsOf(view!.runId).every((r) => r.aborted)).toBe(true);
  });

  it('aborts the in-flight HTTP request of a cancelled run, which ends CANCELLED', async () => {
    fake.respond(() => ({ hang: true }));
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: { message: 'cancel me' },
    });
    const runId = res.body.runId as string;
    const until = Date.now() + 10_000;
    while (callsOf(runId).length === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    expect(callsOf(runId)).toHaveLength(1);
    const cancel = await fetch(`${system.gatewayUrl}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(cancel.status).toBe(202);
    const [view] = await waitTerminal(system.gatewayUrl, [runId], 20_000);
    expect(view!.status).toBe('CANCELLED');
    expect(callsOf(runId)[0]!.aborted).toBe(true);
  });

  it('opens the breaker of a provider answering 500 and finishes the tasks on the fallback', async () => {
    fake.respond(() => ({ status: 500 }));
    const tasks = Array.from({ length: 10 }, (_, i) => ({
      message: `Sentence number ${i}. It has words.`,
    }));
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { tasks } });
    const [view] = await waitTerminal(system.gatewayUrl, [res.body.runId as string], 30_000);
    expect(view!.status).toBe('SUCCEEDED');
    const runId = view!.runId;
    const execution = view!.result.execution as { tasks: { provider: string; model: string }[] };
    expect(execution.tasks.map((t) => t.provider)).toEqual(Array(10).fill('local'));
    expect(execution.tasks.every((t) => t.model === 'heady-local-extractive')).toBe(true);
    // five failures open the breaker: the later tasks never reach the broken provider
    expect(callsOf(runId).length).toBeLessThan(10);
    const recovery = view!.result.recovery as { fellBack: number; breakersOpen: string[] };
    expect(recovery.fellBack).toBe(10);
    expect(recovery.breakersOpen).toEqual(['primary']);
    const output = view!.result.output as { text: string }[];
    expect(output.every((o) => /extractive/i.test(o.text))).toBe(true);

    // the workers shared the open breaker: the gateway reports it, and when it is tried again
    const health = (await (
      await fetch(`${system.gatewayUrl}/api/providers/health`, { headers: authHeaders() })
    ).json()) as {
      healthy: boolean;
      providers: { name: string; state: string; retryAt: string | null }[];
    };
    expect(health.healthy).toBe(false);
    const primary = health.providers.find((p) => p.name === 'primary');
    expect(primary?.state).toBe('open');
    expect(Date.parse(primary!.retryAt!)).toBeGreaterThan(Date.now());
    expect(health.providers.find((p) => p.name === 'local')?.state).toBe('closed');
  });
});
