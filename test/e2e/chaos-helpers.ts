import { fromBinary } from '@bufbuild/protobuf';
import { RunEventSchema, STAGE_NAMES } from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { authHeaders } from './helpers.js';

/** A run the drill submitted, with the status it must end in. */
export interface DrillRun {
  id: string;
  expected: 'SUCCEEDED' | 'COMPENSATED';
  /** The stage a permanent fault was aimed at (COMPENSATED runs). */
  permanentAt?: number;
  /** The stage a transient fault was aimed at, and how many attempts it failed. */
  transient?: { stage: number; times: number };
}

/** The body of drill run `i`: every 5th has a transient fault, every 50th a permanent one. */
export function drillBody(i: number): { body: unknown; run: Omit<DrillRun, 'id'> } {
  const action = ['chat', 'analyze', 'code', 'search'][i % 4];
  if (i % 50 === 7) {
    const k = 1 + (i % 8);
    return {
      body: {
        action,
        input: { i },
        options: { faults: [{ stage: STAGE_NAMES[k], mode: 'permanent' }] },
      },
      run: { expected: 'COMPENSATED', permanentAt: k },
    };
  }
  if (i % 5 === 1) {
    const stage = (i * 7) % STAGE_NAMES.length;
    const times = 1 + (i % 2);
    return {
      body: {
        action,
        input: { i },
        options: { faults: [{ stage: STAGE_NAMES[stage], mode: 'transient', times }] },
      },
      run: { expected: 'SUCCEEDED', transient: { stage, times } },
    };
  }
  return { body: { action, input: { i } }, run: { expected: 'SUCCEEDED' } };
}

/** POSTs the runs with a few clients at a time, retrying a refused POST (the stack may be under fire). */
export async function submitRuns(
  base: string,
  count: number,
  clients = 8,
  onSubmitted?: (n: number, ids: string[]) => void,
): Promise<DrillRun[]> {
  const runs: DrillRun[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) {
        const i = next++;
        const { body, run } = drillBody(i);
        // the same Idempotency-Key on a retry: a POST that did get through is not a second run
        const key = `drill-${i}-${Math.random().toString(36).slice(2)}`;
        for (let tries = 0; ; tries++) {
          try {
            const res = await fetch(`${base}/api/runs`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'idempotency-key': key,
                ...authHeaders(),
              },
              body: JSON.stringify(body),
              signal: AbortSignal.timeout(30_000),
            });
            if (res.status === 202) {
              runs.push({ id: ((await res.json()) as { runId: string }).runId, ...run });
              onSubmitted?.(
                runs.length,
                runs.map((r) => r.id),
              );
              break;
            }
            if (tries >= 120) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
          } catch (e) {
            if (tries >= 120) throw e;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }),
  );
  return runs;
}

/**
 * Waits until every run is terminal in PostgreSQL (queries that fail while the database is
 * away are retried). Returns the ids still not terminal at the deadline.
 */
export async function waitTerminalInDb(
  db: Kysely<Database>,
  ids: string[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = ids;
  while (Date.now() < deadline) {
    try {
      const done = await db
        .selectFrom('pipeline_runs')
        .select('id')
        .where('id', 'in', pending)
        .where('status', 'in', ['SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED'])
        .execute();
      const ended = new Set(done.map((r) => r.id));
      pending = pending.filter((id) => !ended.has(id));
      if (!pending.length) return [];
    } catch {
      // the database is down for the drill
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (pending.length && timeoutMs > 1_000) await describeStuck(db, pending);
  return pending;
}

/** Prints where runs that did not end stopped (their status and stage rows), for the CI log. */
async function describeStuck(db: Kysely<Database>, ids: string[]): Promise<void> {
  try {
    const runs = await db
      .selectFrom('pipeline_runs')
      .select(['id', 'status', 'error', 'cancel_requested_at'])
      .where('id', 'in', ids)
      .execute();
    const stages = await db
      .selectFrom('pipeline_stage_runs')
      .select([
        'pipeline_run_id',
        'stage_name',
        'iteration',
        'status',
        'attempts',
        'compensation_attempts',
        'error',
      ])
      .where('pipeline_run_id', 'in', ids)
      .orderBy('stage_num')
      .execute();
    for (const r of runs) {
      const own = stages.filter((s) => s.pipeline_run_id === r.id);
      console.error(`run ${r.id} did not end: ${JSON.stringify({ ...r, stages: own })}`);
    }
  } catch (e) {
    console.error(`could not describe the runs that did not end: ${String(e)}`);
  }
}

/**
 * Records, with triggers, every effect the pipeline commits: a stage row turning
 * SUCCEEDED or COMPENSATED, a run's result stored or retracted, a run ending. A duplicate
 * effect is a second row for the same thing (rolled-back work leaves none).
 */
export async function recordEffects(db: Kysely<Database>): Promise<void> {
  await sql`
    CREATE TABLE drill_effects (
      seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, what TEXT NOT NULL, was TEXT,
      attempts INT, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
      xid BIGINT NOT NULL DEFAULT txid_current(), backend INT NOT NULL DEFAULT pg_backend_pid(),
      app TEXT DEFAULT current_setting('application_name'))
  `.execute(db);
  await sql`
    CREATE FUNCTION drill_stage_effect() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('SUCCEEDED', 'COMPENSATED') THEN
        INSERT INTO drill_effects (run_id, what, was, attempts)
          VALUES (NEW.pipeline_run_id::text, NEW.stage_name || ':' || NEW.iteration || ':' || NEW.status, OLD.status, NEW.attempts);
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`
    CREATE FUNCTION drill_run_effect() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.result IS DISTINCT FROM OLD.result THEN
        INSERT INTO drill_effects (run_id, what)
          VALUES (NEW.id::text, CASE WHEN NEW.result = '{}'::jsonb THEN 'result:retracted' ELSE 'result:stored' END);
      END IF;
      IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status IN ('SUCCEEDED', 'FAILED', 'COMPENSATED', 'CANCELLED') THEN
        INSERT INTO drill_effects (run_id, what) VALUES (NEW.id::text, 'run:' || NEW.status);
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`CREATE TRIGGER drill_stage_effect AFTER UPDATE ON pipeline_stage_runs FOR EACH ROW EXECUTE FUNCTION drill_stage_effect()`.execute(
    db,
  );
  await sql`CREATE TRIGGER drill_run_effect AFTER UPDATE ON pipeline_runs FOR EACH ROW EXECUTE FUNCTION drill_run_effect()`.execute(
    db,
  );
}

/** Every RUN_EVENTS event of the drill: run id, event name and (decoded) stage. */
async function runEvents(
  natsUrl: string,
): Promise<{ runId: string; event: string; stage: string }[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info('RUN_EVENTS')).state.messages;
    const out: { runId: string; event: string; stage: string }[] = [];
    if (!total) return out;
    const consumer = await jetstream(nc).consumers.get('RUN_EVENTS', {
      deliver_policy: DeliverPolicy.All,
    });
    const msgs = await consumer.consume({ max_messages: 1000 });
    for await (const m of msgs) {
      // runs.<runId>.<event with a dot>
      const [, runId = '', ...rest] = m.subject.split('.');
      const ev = fromBinary(RunEventSchema, m.data);
      out.push({ runId, event: rest.join('.'), stage: ev.stage });
      if (m.info.pending === 0) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * The drill's assertions, from PostgreSQL and the RUN_EVENTS stream: every run ended with
 * its expected status; per run one SUCCEEDED (or, when undone, COMPENSATED) stage row per
 * completed stage and nothing after a permanent fault; each effect committed once (see
 * {@link recordEffects}); one terminal event and one stage.succeeded per completed stage
 * on RUN_EVENTS; nothing in DLQ.
 */
export async function assertDrill(
  db: Kysely<Database>,
  natsUrl: string,
  runs: DrillRun[],
): Promise<void> {
  const ids = runs.map((r) => r.id);
  const rows = await db
    .selectFrom('pipeline_runs')
    .select(['id', 'status', 'error', 'result'])
    .where('id', 'in', ids)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const wrong = runs
    .filter((r) => byId.get(r.id)?.status !== r.expected)
    .map((r) => ({ ...r, got: byId.get(r.id)?.status, error: byId.get(r.id)?.error }));
  expect(wrong, 'runs that did not end as expected').toEqual([]);

  const stageRows = await db
    .selectFrom('pipeline_stage_runs')
    .select(['pipeline_run_id', 'stage_num', 'stage_name', 'status', 'attempts', 'compensations'])
    .where('pipeline_run_id', 'in', ids)
    .orderBy('pipeline_run_id')
    .orderBy('stage_num')
    .execute();
  const stagesOf = new Map<string, typeof stageRows>();
  for (const s of stageRows) {
    const list = stagesOf.get(s.pipeline_run_id) ?? [];
    list.push(s);
    stagesOf.set(s.pipeline_run_id, list);
  }
  const effects = await db
    .selectFrom('drill_effects' as never)
    .select(['run_id' as never, 'what' as never])
    .execute();
  const effectCount = new Map<string, number>();
  for (const e of effects as { run_id: string; what: string }[]) {
    const k = `${e.run_id}|${e.what}`;
    effectCount.set(k, (effectCount.get(k) ?? 0) + 1);
  }
  const twice = [...effectCount].filter(([, n]) => n > 1);
  if (twice.length) {
    // what happened, for whoever reads the failure
    const detail = await db
      .selectFrom('drill_effects' as never)
      .selectAll()
      .where('run_id' as never, 'in', twice.map(([k]) => k.split('|')[0]) as never)
      .orderBy('seq' as never)
      .execute();
    console.error('effects of the runs with a duplicate:', JSON.stringify(detail, null, 1));
  }
  expect(twice, 'effects committed more than once').toEqual([]);

  const events = await runEvents(natsUrl);
  const eventCount = new Map<string, number>();
  for (const e of events) {
    const k = `${e.runId}|${e.event}${e.event.startsWith('stage.') && !e.event.endsWith('started') && !e.event.endsWith('failed') ? `|${e.stage}` : ''}`;
    eventCount.set(k, (eventCount.get(k) ?? 0) + 1);
  }
  const terminalEvents = ['run.succeeded', 'run.compensated', 'run.failed', 'run.cancelled'];

  const problems: string[] = [];
  for (const r of runs) {
    const list = stagesOf.get(r.id) ?? [];
    const has = (what: string): number => effectCount.get(`${r.id}|${what}`) ?? 0;
    const ev = (what: string): number => eventCount.get(`${r.id}|${what}`) ?? 0;
    const terminal = terminalEvents.map((t) => `${t}=${ev(t)}`).join(' ');
    if (r.expected === 'SUCCEEDED') {
      const shape = list.map((s) => `${s.stage_name}:${s.status}:${s.compensations}`).join(',');
      const want = STAGE_NAMES.map((n) => `${n}:SUCCEEDED:0`).join(',');
      if (shape !== want) problems.push(`${r.id}: stages ${shape}`);
      for (const n of STAGE_NAMES) {
        if (has(`${n}:0:SUCCEEDED`) !== 1)
          problems.push(`${r.id}: ${n} SUCCEEDED committed ${has(`${n}:0:SUCCEEDED`)}×`);
        if (ev(`stage.succeeded|${n}`) !== 1)
          problems.push(
            `${r.id}: stage.succeeded of ${n} published ${ev(`stage.succeeded|${n}`)}×`,
          );
      }
      if (has('result:stored') !== 1 || has('result:retracted') !== 0)
        problems.push(`${r.id}: result stored ${has('result:stored')}×`);
      if (has('run:SUCCEEDED') !== 1) problems.push(`${r.id}: run ended ${has('run:SUCCEEDED')}×`);
      if (
        ev('run.succeeded') !== 1 ||
        terminal !== `run.succeeded=1 run.compensated=0 run.failed=0 run.cancelled=0`
      )
        problems.push(`${r.id}: terminal events ${terminal}`);
      if (r.transient) {
        const s = list[r.transient.stage];
        if (!s || s.attempts < r.transient.times + 1)
          problems.push(`${r.id}: ${s?.stage_name} attempts ${s?.attempts}`);
      }
    } else {
      const k = r.permanentAt ?? -1;
      const shape = list.map((s) => `${s.stage_num}:${s.status}:${s.compensations}`).join(',');
      const want = [
        ...Array.from({ length: k }, (_, n) => `${n}:COMPENSATED:1`),
        `${k}:FAILED:0`,
      ].join(',');
      if (shape !== want) problems.push(`${r.id}: stages ${shape}, want ${want}`);
      for (let n = 0; n < k; n++) {
        const name = STAGE_NAMES[n] ?? '';
        if (has(`${name}:0:SUCCEEDED`) !== 1 || has(`${name}:0:COMPENSATED`) !== 1)
          problems.push(
            `${r.id}: ${name} succeeded ${has(`${name}:0:SUCCEEDED`)}×, compensated ${has(`${name}:0:COMPENSATED`)}×`,
          );
        if (ev(`stage.compensated|${name}`) !== 1)
          problems.push(
            `${r.id}: stage.compensated of ${name} published ${ev(`stage.compensated|${name}`)}×`,
          );
      }
      if (has('run:COMPENSATED') !== 1)
        problems.push(`${r.id}: run ended ${has('run:COMPENSATED')}×`);
      if (terminal !== `run.succeeded=0 run.compensated=1 run.failed=0 run.cancelled=0`)
        problems.push(`${r.id}: terminal events ${terminal}`);
    }
  }
  expect(problems, 'per-run bookkeeping').toEqual([]);

  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const dlq = await jsm.streams.info('DLQ').catch(() => undefined);
    expect(dlq?.state.messages ?? 0, 'messages in DLQ').toBe(0);
  } finally {
    await nc.close();
  }
}
