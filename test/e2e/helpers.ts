import { copyToDlq } from '@heady/bus';
import { createDb, type Database, type Kysely } from '@heady/db';
import { type System } from '@heady/testing/fixtures';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED']);

export interface RunView {
  runId: string;
  action: string;
  group: string;
  status: string;
  stages: {
    num: number;
    name: string;
    status: string;
    attempts: number;
    startedAt: string;
    finishedAt: string | null;
    error: string | null;
  }[];
  result: Record<string, unknown>;
  createdAt: string;
  finishedAt: string | null;
}

let apiKey: string | undefined;

/** Every helper below sends `Authorization: Bearer <key>` from now on. */
export function useApiKey(key: string): void {
  apiKey = key;
}

/** The Authorization header of the key in use (empty when none). */
export function authHeaders(): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** POSTs a run and returns status, headers and parsed body. */
export async function postRun(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  };
}

export async function getRun(
  base: string,
  id: string,
  headers: Record<string, string> = authHeaders(),
): Promise<RunView> {
  const res = await fetch(`${base}/api/runs/${id}`, { headers });
  if (!res.ok) throw new Error(`GET run ${id}: ${res.status}`);
  return (await res.json()) as RunView;
}

/** Polls until every run is terminal (or the deadline passes) and returns their final views. */
export async function waitTerminal(
  base: string,
  ids: string[],
  timeoutMs = 90_000,
): Promise<RunView[]> {
  const deadline = Date.now() + timeoutMs;
  const done = new Map<string, RunView>();
  while (Date.now() < deadline) {
    const pending = ids.filter((id) => !done.has(id));
    if (!pending.length) break;
    // A few at a time: this polls through the gateway like a client would.
    for (let i = 0; i < pending.length; i += 25) {
      const views = await Promise.all(pending.slice(i, i + 25).map((id) => getRun(base, id)));
      for (const v of views) if (TERMINAL.has(v.status)) done.set(v.runId, v);
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 250));
  }
  return ids.map((id) => done.get(id) ?? ({ runId: id, status: 'NOT_TERMINAL' } as RunView));
}

export function openDb(url: string): Kysely<Database> {
  return createDb({ url, poolMax: 2 });
}

/**
 * Posts a run while the pipeline is stopped and moves its first stage command to DLQ (as
 * exhausted deliveries would, with `reason`), then starts the pipeline again: the run waits
 * for an operator's redrive. Returns the run id.
 */
export async function postRunWithDeadLetteredEntry(
  system: System<string>,
  input: Record<string, unknown>,
  reason: string,
): Promise<string> {
  await system.stack.services.pipeline.kill('SIGTERM');
  const res = await postRun(system.gatewayUrl, { action: 'chat', input });
  const runId = res.body.runId as string;
  const jsm = await jetstreamManager(system.nc);
  const m = await jsm.streams.getMessage('PIPELINE', {
    last_by_subj: 'pipeline.stage.channel-entry',
  });
  if (!m) throw new Error('no channel-entry command');
  await copyToDlq(
    jetstream(system.nc),
    {
      stream: 'PIPELINE',
      consumer: 'stage-channel-entry',
      seq: m.seq,
      subject: m.subject,
      deliveries: 8,
      data: m.data,
      headers: m.header,
      reason,
      storedAt: m.time.getTime(),
    },
    'handler',
  );
  await jsm.streams.deleteMessage('PIPELINE', m.seq);
  await system.stack.services.pipeline.start();
  return runId;
}
