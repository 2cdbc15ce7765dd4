import { STAGE_NAMES } from '@heady/contracts';
import { withSystem } from '@heady/testing/fixtures';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, postRun, useApiKey, waitTerminal } from './helpers.js';

const CLOCK_AHEAD = pathToFileURL(
  fileURLToPath(new URL('./fixtures/clock-ahead.mjs', import.meta.url)),
).href;

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** What a client saw of one event stream. */
interface SseRead {
  status: number;
  events: SseEvent[];
  comments: string[];
  /** True when the server ended the stream (false: the reader gave up at its deadline). */
  closed: boolean;
}

/** Reads an event stream until the server ends it or `deadlineMs` passes. */
async function readSse(
  url: string,
  deadlineMs: number,
  headers: Record<string, string> = {},
): Promise<SseRead> {
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), deadlineMs);
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...authHeaders(), ...headers },
    signal: giveUp.signal,
  });
  let text = '';
  let closed = false;
  try {
    if (res.status === 200 && res.body) {
      const decoder = new TextDecoder();
      for await (const chunk of res.body) text += decoder.decode(chunk as Uint8Array);
      closed = true;
    }
  } catch {
    // the deadline passed with the stream still open
  } finally {
    clearTimeout(timer);
  }
  const events: SseEvent[] = [];
  const comments: string[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter(Boolean);
    comments.push(...lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).trim()));
    const fields = Object.fromEntries(
      lines
        .filter((l) => !l.startsWith(':'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
    ) as Record<string, string>;
    if (fields.event && fields.data)
      events.push({
        id: fields.id ?? '',
        event: fields.event,
        data: JSON.parse(fields.data) as Record<string, unknown>,
      });
  }
  return { status: res.status, events, comments, closed };
}

/** Opens an event stream and keeps it open (headers read, body unread) until `close`. */
async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> | undefined; close: () => void }> {
  const ctl = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...authHeaders(), ...headers },
    signal: ctl.signal,
  });
  const body = res.status === 200 ? undefined : ((await res.json()) as Record<string, unknown>);
  return { status: res.status, body, close: () => ctl.abort() };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

const FULL_HISTORY = [
  'run.started',
  ...STAGE_NAMES.flatMap(() => ['stage.started', 'stage.succeeded']),
  'run.succeeded',
];

// The run event stream (GET /api/runs/:id/events) through the real services as separate
// processes, signing on: every stream ends, whatever the run and however old it is.
describe('run event streams', () => {
  const system = withSystem({
    database: 'heady_e2e_run_events',
    services: ['conductor', 'pipeline', 'gateway'],
    client: true,
  });
  let jsm: JetStreamManager;
  /** A run that succeeded, and the id of its terminal event. */
  let done: { runId: string; lastId: string };

  const restartGateway = async (env: Record<string, string>): Promise<void> => {
    const gw = system.stack.services.gateway;
    await gw.kill();
    gw.extraEnv = env;
    await gw.start();
  };
  const consumers = async (): Promise<number> =>
    (await jsm.consumers.list('RUN_EVENTS').next()).length;
  /** A stream that stays open: it resumes after the run's terminal event, so nothing is left to send. */
  const quietStream = () => `${system.gatewayUrl}/api/runs/${done.runId}/events`;

  beforeAll(async () => {
    useApiKey(system.credentials.admin.key);
    jsm = await jetstreamManager(system.nc);
    const res = await postRun(system.gatewayUrl, { action: 'chat', input: { q: 'history' } });
    const runId = res.body.runId as string;
    expect((await waitTerminal(system.gatewayUrl, [runId]))[0]?.status).toBe('SUCCEEDED');
    const all = await readSse(`${system.gatewayUrl}/api/runs/${runId}/events`, 20_000);
    expect(all.events.map((e) => e.event)).toEqual(FULL_HISTORY);
    done = { runId, lastId: all.events.at(-1)?.id ?? '' };
  });

  // 5 s in CI
  it('streams the whole history of a run that ended 4 minutes ago and then closes', async () => {
    // the gateway's clock runs 4 minutes ahead: to it, the run's events were stored 4 minutes
    // ago, well past the 120 s a signature may be older than the moment it was stored
    await restartGateway({
      NODE_OPTIONS: `--import=${CLOCK_AHEAD}`,
      HEADY_TEST_CLOCK_AHEAD_MS: String(4 * 60_000),
    });
    try {
      const read = await readSse(`${system.gatewayUrl}/api/runs/${done.runId}/events`, 20_000);
      expect(read.status).toBe(200);
      expect(read.events.map((e) => e.event)).toEqual(FULL_HISTORY);
      expect(read.closed).toBe(true);
    } finally {
      await restartGateway({});
    }
  }, 45_000);

  it("ends the stream of a run the conductor failed at admission with the run's run.failed", async () => {
    // PIPELINE refuses every message for a moment, so the first stage command cannot be stored
    const pipeline = await jsm.streams.info('PIPELINE');
    await jsm.streams.update('PIPELINE', { max_msg_size: 1 });
    let res: Awaited<ReturnType<typeof postRun>>;
    try {
      res = await postRun(system.gatewayUrl, { action: 'chat', input: { q: 'refused' } });
    } finally {
      await jsm.streams.update('PIPELINE', { max_msg_size: pipeline.config.max_msg_size });
    }
    expect(res.status).toBe(503);
    const failed = await system.db
      .selectFrom('pipeline_runs')
      .select(['id', 'status'])
      // jsonb containment takes the JSON text; the column's type only knows objects
      .where('input', '@>', JSON.stringify({ q: 'refused' }) as never)
      .executeTakeFirstOrThrow();
    expect(failed.status).toBe('FAILED');
    const read = await readSse(`${system.gatewayUrl}/api/runs/${failed.id}/events`, 15_000);
    expect(read.events.map((e) => e.event)).toEqual(['run.failed']);
    expect(read.events[0]?.data.error).toMatch(/could not be published/);
    expect(read.closed).toBe(true);
  });

  it('deletes the JetStream consumer of a stream as soon as its client disconnects', async () => {
    const before = await consumers();
    const s = await openSse(quietStream(), { 'last-event-id': done.lastId });
    expect(s.status).toBe(200);
    expect(await waitFor(async () => (await consumers()) === before + 1)).toBe(true);
    s.close();
    expect(await waitFor(async () => (await consumers()) === before, 3000)).toBe(true);
  });

  // 12 s in CI
  it('answers 429 problem+json to the streams one API key opens past its cap of 20, and frees a slot on disconnect', async () => {
    const before = await consumers();
    const opened = await Promise.all(
      Array.from({ length: 200 }, () => openSse(quietStream(), { 'last-event-id': done.lastId })),
    );
    try {
      const statuses = opened.map((s) => s.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(180);
      const refused = opened.find((s) => s.status === 429)?.body;
      expect(refused).toMatchObject({ status: 429, code: 'TOO_MANY_STREAMS', limit: 20 });
      // one client leaves: its slot is free again
      opened.find((s) => s.status === 200)?.close();
      expect(
        await waitFor(async () => {
          const s = await openSse(quietStream(), { 'last-event-id': done.lastId });
          s.close();
          return s.status === 200;
        }),
      ).toBe(true);
    } finally {
      for (const s of opened) s.close();
    }
    // every slot and consumer is given back once the clients are gone
    expect(await waitFor(async () => (await consumers()) === before)).toBe(true);
  }, 90_000);

  // 7 s in CI
  it('closes a stream that sent no run event for the idle timeout, keep-alive comments notwithstanding', async () => {
    await restartGateway({ HEADY_SSE_IDLE_TIMEOUT_MS: '2000', HEADY_SSE_KEEPALIVE_MS: '300' });
    try {
      const started = Date.now();
      const read = await readSse(quietStream(), 15_000, { 'last-event-id': done.lastId });
      const tookMs = Date.now() - started;
      expect(read.status).toBe(200);
      expect(read.closed).toBe(true);
      expect(read.events).toEqual([]);
      expect(read.comments.filter((c) => c === 'keep-alive').length).toBeGreaterThanOrEqual(3);
      expect(read.comments.at(-1)).toMatch(/reconnect with Last-Event-ID/);
      expect(tookMs).toBeGreaterThanOrEqual(1900);
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      await restartGateway({});
    }
  }, 45_000);
});
