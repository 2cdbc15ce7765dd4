import { STAGE_NAMES } from '@heady/contracts';
import { withSystem } from '@heady/testing/fixtures';
import { jetstreamManager } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  authHeaders,
  postRun,
  postRunWithDeadLetteredEntry,
  useApiKey,
  waitTerminal,
} from './helpers.js';

// Durable runs through the real services as separate processes (signing on), with fault
// injection enabled: retries with backoff, and saga compensation in reverse.
describe('durable runs: retries, compensation and fault injection', () => {
  const system = withSystem({
    database: 'heady_e2e_durable',
    services: ['conductor', 'pipeline', 'gateway'],
    env: { HEADY_STAGE_ACK_WAIT_MS: '3000', HEADY_FAULTS: '1' },
    client: true,
  });

  beforeAll(() => {
    useApiKey(system.credentials.admin.key);
  });

  const stageRows = (runId: string) =>
    system.db
      .selectFrom('pipeline_stage_runs')
      .select(['stage_name', 'stage_num', 'status', 'attempts', 'compensations', 'compensated_at'])
      .where('pipeline_run_id', '=', runId)
      .orderBy('stage_num')
      .execute();

  // 5 s in CI
  it('succeeds with 3 attempts on the stage that fails transiently twice, for each stage in turn', async () => {
    const posted = await Promise.all(
      STAGE_NAMES.map((stage) =>
        postRun(system.gatewayUrl, {
          action: 'chat',
          input: { stage },
          options: { faults: [{ stage, mode: 'transient', times: 2 }] },
        }),
      ),
    );
    expect(posted.map((p) => p.status)).toEqual(Array(STAGE_NAMES.length).fill(202));
    const views = await waitTerminal(
      system.gatewayUrl,
      posted.map((p) => p.body.runId as string),
    );
    for (const [i, v] of views.entries()) {
      const faulty = STAGE_NAMES[i];
      expect(v.status, faulty).toBe('SUCCEEDED');
      expect(v.stages.map((s) => s.name)).toEqual([...STAGE_NAMES]);
      for (const s of v.stages) {
        expect(s.status).toBe('SUCCEEDED');
        expect(s.attempts, `${faulty} run, stage ${s.name}`).toBe(s.name === faulty ? 3 : 1);
      }
    }
  }, 45_000);

  it('compensates stages k-1 … 0 in reverse, each once, after a permanent fault at stage k', async () => {
    const ks = [1, 3, 5, 8];
    const posted = await Promise.all(
      ks.map((k) =>
        postRun(system.gatewayUrl, {
          action: 'code',
          input: { k },
          options: { faults: [{ stage: STAGE_NAMES[k], mode: 'permanent' }] },
        }),
      ),
    );
    const views = await waitTerminal(
      system.gatewayUrl,
      posted.map((p) => p.body.runId as string),
    );
    for (const [i, v] of views.entries()) {
      const k = ks[i] ?? -1;
      expect(v.status, `permanent at ${k}`).toBe('COMPENSATED');
      const rows = await stageRows(v.runId);
      // nothing after k ran; k failed on its first attempt (a permanent failure is not retried)
      expect(rows.map((r) => r.stage_num)).toEqual(Array.from({ length: k + 1 }, (_, n) => n));
      const failed = rows[k];
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 1, compensations: 0 });
      const undone = rows.slice(0, k);
      for (const r of undone) {
        expect(r, r.stage_name).toMatchObject({ status: 'COMPENSATED', compensations: 1 });
        expect(r.compensated_at).not.toBeNull();
      }
      // reverse order: a later stage was undone no later than an earlier one
      const times = undone.map((r) => r.compensated_at?.getTime() ?? 0);
      for (let n = 1; n < times.length; n++) {
        expect(times[n - 1] ?? 0).toBeGreaterThanOrEqual(times[n] ?? 0);
      }
      const run = await system.db
        .selectFrom('pipeline_runs')
        .select(['request_id', 'result', 'error'])
        .where('id', '=', v.runId)
        .executeTakeFirstOrThrow();
      expect(run.error).toMatch(/injected permanent fault/);
      // finalize's compensation retracted the stored result
      if (k === 8) expect(run.result).toEqual({});
    }
  });

  it('releases the idempotency key when channel entry is compensated', async () => {
    const key = `durable-${Date.now()}`;
    const first = await postRun(
      system.gatewayUrl,
      { action: 'chat', input: {}, options: { faults: [{ stage: 'plan', mode: 'permanent' }] } },
      { 'idempotency-key': key },
    );
    const [v] = await waitTerminal(system.gatewayUrl, [first.body.runId as string]);
    expect(v?.status).toBe('COMPENSATED');
    // the key names a new run now
    const again = await postRun(
      system.gatewayUrl,
      { action: 'chat', input: {} },
      { 'idempotency-key': key },
    );
    expect(again.status).toBe(202);
    expect(again.body.runId).not.toBe(first.body.runId);
    const [w] = await waitTerminal(system.gatewayUrl, [again.body.runId as string]);
    expect(w?.status).toBe('SUCCEEDED');
  });

  it('ends FAILED when a compensation fails permanently, with the message in DLQ', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: {
        faults: [
          { stage: 'execute', mode: 'permanent' },
          { stage: 'ingest', mode: 'compensation' },
        ],
      },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('FAILED');
    const rows = await stageRows(runId);
    // plan was undone before ingest's compensation failed; channel entry was not reached
    expect(rows.map((r) => [r.stage_name, r.status])).toEqual([
      ['channel-entry', 'SUCCEEDED'],
      ['ingest', 'SUCCEEDED'],
      ['plan', 'COMPENSATED'],
      ['execute', 'FAILED'],
    ]);
    const run = await system.db
      .selectFrom('pipeline_runs')
      .select('error')
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(run.error).toMatch(/compensation of ingest failed/);
    // the compensation command that could not be carried out is in DLQ with its reason
    const jsm = await jetstreamManager(system.nc);
    const m = await jsm.streams.getMessage('DLQ', {
      last_by_subj: 'dlq.PIPELINE.compensate-ingest',
    });
    expect(m?.header.get('Heady-Dlq-Reason')).toMatch(/compensation of ingest failed/);
  });

  it('answers 422 problem+json for a malformed fault', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: { faults: [{ stage: 'nowhere', mode: 'transient' }] },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('cancels a run mid-flight: completed stages undone, CANCELLED, and a second cancel is harmless', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: { faults: [{ stage: 'execute', mode: 'delay', ms: 2_500 }] },
    });
    const runId = res.body.runId as string;
    await waitFor(async () => (await stageRows(runId)).some((r) => r.stage_name === 'execute'));
    const first = await fetch(`${system.gatewayUrl}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ runId, status: 'CANCELLING' });
    const second = await fetch(`${system.gatewayUrl}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(second.status).toBe(202);
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('CANCELLED');
    const rows = await stageRows(runId);
    expect(rows.map((r) => [r.stage_name, r.status, r.compensations])).toEqual([
      ['channel-entry', 'COMPENSATED', 1],
      ['ingest', 'COMPENSATED', 1],
      ['plan', 'COMPENSATED', 1],
      ['execute', 'COMPENSATED', 1],
    ]);
    const third = await fetch(`${system.gatewayUrl}/api/runs/${runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(third.status).toBe(202);
    expect(await third.json()).toEqual({ runId, status: 'CANCELLED' });
  });

  it('answers 409 to cancelling a run that succeeded and 404 to an unknown run', async () => {
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: {} });
    const [v] = await waitTerminal(system.gatewayUrl, [res.body.runId as string]);
    expect(v?.status).toBe('SUCCEEDED');
    const late = await fetch(`${system.gatewayUrl}/api/runs/${v?.runId}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await late.json()).toMatchObject({
      code: 'RUN_ENDED',
      status: 409,
      runStatus: 'SUCCEEDED',
    });
    const none = await fetch(`${system.gatewayUrl}/api/runs/${crypto.randomUUID()}/cancel`, {
      method: 'POST',
      headers: authHeaders(),
    });
    expect(none.status).toBe(404);
  });

  it('compensates a run past its deadline', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      options: { deadlineMs: 1_000, faults: [{ stage: 'plan', mode: 'delay', ms: 1_800 }] },
    });
    const runId = res.body.runId as string;
    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('COMPENSATED');
    const rows = await stageRows(runId);
    expect(rows.map((r) => [r.stage_name, r.status])).toEqual([
      ['channel-entry', 'COMPENSATED'],
      ['ingest', 'COMPENSATED'],
      ['plan', 'COMPENSATED'],
    ]);
    const run = await system.db
      .selectFrom('pipeline_runs')
      .select('error')
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(run.error).toMatch(/deadline of 1000 ms exceeded/);
  });

  it('streams every event of a run in order as SSE, history then live, and resumes from Last-Event-ID', async () => {
    const res = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: {},
      // slow enough that the stream opens before the run ends: part history, part live
      options: { faults: [{ stage: 'recover', mode: 'delay', ms: 800 }] },
    });
    const runId = res.body.runId as string;
    const all = await readSse(`${system.gatewayUrl}/api/runs/${runId}/events`);
    const names = all.map((e) => e.event);
    expect(names[0]).toBe('run.started');
    expect(names.at(-1)).toBe('run.succeeded');
    const expected = ['run.started'];
    for (const _stage of STAGE_NAMES) expected.push('stage.started', 'stage.succeeded');
    expected.push('run.succeeded');
    expect(names).toEqual(expected);
    expect(all.filter((e) => e.event === 'stage.started').map((e) => e.data.stage)).toEqual([
      ...STAGE_NAMES,
    ]);
    const ids = all.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    // resume after the 6th event: exactly the rest
    const cut = all[5]?.id ?? '';
    const rest = await readSse(`${system.gatewayUrl}/api/runs/${runId}/events`, {
      'last-event-id': cut,
    });
    expect(rest.map((e) => e.id)).toEqual(all.slice(6).map((e) => e.id));
  });

  // 7 s in CI
  it('recovers from a crash fault that SIGKILLs the stage process: every run in flight still succeeds', async () => {
    const crashed = await postRun(system.gatewayUrl, {
      action: 'chat',
      input: { crash: true },
      options: { faults: [{ stage: 'plan', mode: 'crash' }] },
    });
    const others = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postRun(system.gatewayUrl, { action: 'code', input: { i } }),
      ),
    );
    const crashedId = crashed.body.runId as string;
    await waitFor(() => Promise.resolve(!system.stack.services.pipeline.running));
    const restarted = Date.now();
    await system.stack.services.pipeline.start();
    // the crashed delivery comes back after the ack wait and the run moves on
    await waitFor(async () =>
      (await stageRows(crashedId)).some((r) => r.stage_name === 'plan' && r.status === 'SUCCEEDED'),
    );
    const recoveryMs = Date.now() - restarted;
    console.log(`recovery after SIGKILL: in-flight run moved again ${recoveryMs} ms after restart`);
    const views = await waitTerminal(system.gatewayUrl, [
      crashedId,
      ...others.map((o) => o.body.runId as string),
    ]);
    expect(views.filter((v) => v.status !== 'SUCCEEDED').map((v) => v.status)).toEqual([]);
    const plan = (await stageRows(crashedId)).find((r) => r.stage_name === 'plan');
    expect(plan?.attempts).toBe(2);
  }, 45_000);

  // 16 s in CI
  it('completes a run whose stage command sat in DLQ once an operator redrives it with heady dlq redrive', async () => {
    const heady = (...args: string[]): Promise<unknown> => system.heady(args);
    // the run's first command is dead-lettered (copied to DLQ, gone from PIPELINE) before any stage took it
    const runId = await postRunWithDeadLetteredEntry(
      system,
      { redrive: true },
      'max deliveries (8) exhausted: test',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await waitTerminal(system.gatewayUrl, [runId], 500))[0]?.status).toBe('NOT_TERMINAL');

    await heady('keys', 'issue', 'operator', '--operator', '-s', '>');
    const letters = (await heady('dlq', 'ls')) as {
      seq: number;
      subject: string;
      reason: string;
    }[];
    const letter = letters.find(
      (l) => l.subject === 'pipeline.stage.channel-entry' && l.reason.endsWith(': test'),
    );
    expect(letter).toBeDefined();
    const shown = (await heady('dlq', 'show', String(letter?.seq))) as {
      headers: Record<string, string>;
    };
    expect(shown.headers['Heady-Dlq-Stream']).toBe('PIPELINE');
    const redriven = (await heady('dlq', 'redrive', String(letter?.seq))) as { subject: string };
    expect(redriven.subject).toBe('pipeline.stage.channel-entry');

    const [v] = await waitTerminal(system.gatewayUrl, [runId]);
    expect(v?.status).toBe('SUCCEEDED');
    const audited = await system.db
      .selectFrom('audit_logs')
      .select(['actor', 'target'])
      .where('action', '=', 'dlq.redrive')
      .execute();
    expect(audited).toContainEqual({ actor: 'operator:operator', target: `DLQ/${letter?.seq}` });

    const streams = (await heady('streams', 'ls')) as { stream: string; consumers: unknown[] }[];
    expect(streams.map((s) => s.stream)).toEqual(expect.arrayContaining(['PIPELINE', 'DLQ']));
    const dry = (await heady(
      'replay',
      '--stream',
      'DLQ',
      '--from-seq',
      String(letter?.seq),
      '--subject',
      'dlq.PIPELINE.>',
      '--dry-run',
    )) as { dryRun: boolean; replayed: { seq: number }[] };
    expect(dry.dryRun).toBe(true);
    expect(dry.replayed[0]?.seq).toBe(letter?.seq);
    await heady('dlq', 'drop', String(letter?.seq));
    const after = (await heady('dlq', 'ls')) as { seq: number }[];
    expect(after.map((l) => l.seq)).not.toContain(letter?.seq);
  }, 120_000);

  it('answers 404 problem+json for the events of an unknown run', async () => {
    const r = await fetch(`${system.gatewayUrl}/api/runs/${crypto.randomUUID()}/events`, {
      headers: authHeaders(),
    });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads a server-sent event stream until the server closes it. */
async function readSse(url: string, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...authHeaders(), ...headers },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await res.text();
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    const fields = Object.fromEntries(
      block
        .split('\n')
        .filter((l) => l && !l.startsWith(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
    ) as Record<string, string>;
    if (fields.event && fields.data) {
      events.push({
        id: fields.id ?? '',
        event: fields.event,
        data: JSON.parse(fields.data) as Record<string, unknown>,
      });
    }
  }
  return events;
}
