import { type JsonObject } from '@bufbuild/protobuf';
import { type BusPublisher, type Nudges, nudgesOn } from '@heady/bus';
import { TaskSchema, runTaskEventsOf, task, taskMsgId, workSubject } from '@heady/contracts';
import { type PipelineRun, type TaskRun } from '@heady/db';
import { type PlannedTask } from '../stages/plan-tasks.js';
import { type StageReads } from '../stages/stage-reads.repository.js';

/** How a gather ended: every task answered, one failed for good, or time ran out. */
export type Gathered =
  | { kind: 'done'; rows: TaskRun[] }
  | { kind: 'failed'; row: TaskRun; rows: TaskRun[] }
  | { kind: 'timeout'; pending: string[]; rows: TaskRun[] };

/** What execute asks of the bus: send its tasks to the workers and wait for their answers. */
export interface StageWork {
  /**
   * Publishes `tasks` on `work.<group>` with at most `maxInFlight` of them unsettled at once
   * (the next goes out as one settles), and waits until all have answered, one has failed for
   * good, or `timeoutMs` has passed. Each task's budget carries the time left, so a worker
   * stops calling a provider once the stage has given up on it.
   */
  gather(
    tasks: readonly PlannedTask[],
    opts: { maxInFlight: number; timeoutMs: number },
  ): Promise<Gathered>;
}

/**
 * First and longest pause between two reads of the run's tasks. A settled task's event cuts
 * the pause short, so the longest one only bounds how late a missed event is noticed.
 */
const POLL_MS = { first: 10, max: 1_000 };

/**
 * Fan-out over the bus and fan-in from `task_runs`: each task is a signed message on
 * `work.<group>` (WORK stream, msg id `<run>:<iteration>:<task>:task`, so a redelivered
 * execute publishes nothing twice within the duplicate window, and a worker answers a
 * settled task only by re-announcing it); the workers record every answer in `task_runs`
 * before announcing it, so the stage reads the answers where they are durable: it reads again
 * as soon as a task's announcement (`runs.<runId>.task.*`, core NATS) arrives, and otherwise
 * polls, quickly while answers arrive and backing off while none do. A re-attempt of execute (after
 * a crash) finds the tasks an earlier attempt sent: rows RUNNING count as in flight, rows
 * settled as done.
 */
export class TaskFanOut implements StageWork {
  constructor(
    private readonly bus: BusPublisher,
    private readonly reads: StageReads,
    private readonly run: Pick<PipelineRun, 'id' | 'classification'>,
    private readonly iteration: number,
    private readonly signal: AbortSignal,
  ) {}

  async gather(
    tasks: readonly PlannedTask[],
    opts: { maxInFlight: number; timeoutMs: number },
  ): Promise<Gathered> {
    const nudges = nudgesOn(this.bus.connection.nc, runTaskEventsOf(this.run.id));
    try {
      return await this.loop(tasks, opts, nudges);
    } finally {
      nudges.close();
    }
  }

  private async loop(
    tasks: readonly PlannedTask[],
    opts: { maxInFlight: number; timeoutMs: number },
    nudges: Nudges,
  ): Promise<Gathered> {
    const deadline = Date.now() + opts.timeoutMs;
    const sent = new Set<string>();
    let pause = POLL_MS.first;
    let settledBefore = -1;
    for (;;) {
      this.signal.throwIfAborted();
      const byId = new Map((await this.reads.tasks(this.iteration)).map((r) => [r.task_id, r]));
      const rows = tasks.map((t) => byId.get(t.id)).filter((r): r is TaskRun => !!r);
      const failed = rows.find((r) => r.status === 'FAILED');
      if (failed) return { kind: 'failed', row: failed, rows };
      const settled = rows.filter((r) => r.status === 'SUCCEEDED').length;
      if (settled === tasks.length) return { kind: 'done', rows };
      const left = deadline - Date.now();
      if (left <= 0) {
        const pending = tasks
          .filter((t) => byId.get(t.id)?.status !== 'SUCCEEDED')
          .map((t) => t.id);
        return { kind: 'timeout', pending, rows };
      }
      const inFlight = tasks.filter((t) => {
        const r = byId.get(t.id);
        return r ? r.status === 'RUNNING' : sent.has(t.id);
      }).length;
      const next = tasks
        .filter((t) => !byId.has(t.id) && !sent.has(t.id))
        .slice(0, Math.max(0, opts.maxInFlight - inFlight));
      await Promise.all(next.map((t) => this.publish(t, left)));
      for (const t of next) sent.add(t.id);
      pause =
        settled > settledBefore || next.length ? POLL_MS.first : Math.min(pause * 2, POLL_MS.max);
      settledBefore = settled;
      await nudges.wait(Math.min(pause, left), this.signal);
    }
  }

  private async publish(t: PlannedTask, timeLeftMs: number): Promise<void> {
    const message = task({
      runId: this.run.id,
      taskId: t.id,
      group: t.group,
      kind: t.kind,
      iteration: this.iteration,
      input: t.input as JsonObject,
      ...(t.maxTokens ? { maxTokens: t.maxTokens } : {}),
      timeoutMs: Math.max(100, Math.floor(timeLeftMs)),
    });
    await this.bus.publish(
      workSubject(t.group),
      { schema: TaskSchema, message },
      { msgId: taskMsgId(message), classification: this.run.classification },
    );
  }
}
