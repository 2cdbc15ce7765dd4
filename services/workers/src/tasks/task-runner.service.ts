import {
  BusPublisher,
  type JetStreamContext,
  outageAsRetry,
  PermanentError,
  RetryableError,
} from '@heady/bus';
import { type WorkersConfig } from '@heady/config';
import { isTaskKind, liveTokenSubject, type Task } from '@heady/contracts';
import {
  type ChainChatResult,
  isProviderError,
  ProviderErrorKind,
  isProviderChainError,
} from '@heady/providers';
import { randomUUID } from 'node:crypto';
import { CONFIG, LOGGER } from '@heady/runtime';
import { counter, histogram, type Logger, withLogContext } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { ProviderChains } from '../providers/provider-chains.js';
import { TaskEvents } from './task-events.js';
import { parseTaskInput, type TaskInput } from './task-input.js';
import { type TaskOutcome, TaskRunsRepository } from './task-runs.repository.js';

/** Attempts a task gets before it fails for good (deliveries lost to a crash or an outage count too). */
export const TASK_MAX_ATTEMPTS = 3;
/** Delay before retrying a task whose providers all failed, by attempt (the last repeats). */
const TASK_BACKOFF_MS = [1_000, 5_000];
/** How often a working task looks whether its run still wants it. */
const RUN_WATCH_MS = 500;

const tasks = counter('heady_tasks_total', 'Tasks settled by the workers', [
  'kind',
  'outcome',
] as const);
const taskSeconds = histogram('heady_task_duration_seconds', 'Time one task attempt took', [
  'kind',
  'outcome',
] as const);

/** Provider failures worth another attempt (on any provider of the chain, after a pause). */
const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set([
  ProviderErrorKind.RateLimited,
  ProviderErrorKind.Unavailable,
  ProviderErrorKind.Timeout,
  ProviderErrorKind.Aborted,
]);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs one delivery of a task: claims an attempt on its `task_runs` row, runs it on its
 * group's provider chain (primary, then fallbacks, each behind its breaker), records the
 * answer and announces it. A redelivery of a settled task only re-announces it, so a worker
 * killed mid-task loses nothing and no task is answered twice.
 */
@Injectable()
export class TaskRunner {
  constructor(
    @Inject(CONFIG) private readonly config: WorkersConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(TaskRunsRepository) private readonly repo: TaskRunsRepository,
    @Inject(ProviderChains) private readonly chains: ProviderChains,
    @Inject(TaskEvents) private readonly events: TaskEvents,
    @Inject(BusPublisher) private readonly bus: BusPublisher,
  ) {}

  handle(task: Task, ctx: JetStreamContext): Promise<void> {
    return withLogContext({ runId: task.runId, taskId: task.taskId }, () =>
      ctx.whileWorking(async () => {
        // a run cancelled, failed or past its stages while its task works: stop the provider
        // call (its HTTP request is aborted) instead of paying for an answer nobody reads
        const stop = new AbortController();
        let checking = false;
        const watch = setInterval(() => {
          if (checking || stop.signal.aborted) return;
          checking = true;
          this.repo
            .whyStop(task.runId)
            .then((why) => why && stop.abort(new Error(why)))
            .catch(() => undefined)
            .finally(() => (checking = false));
        }, RUN_WATCH_MS);
        try {
          await this.run(task, stop.signal);
        } catch (err) {
          throw outageAsRetry(err, (e) =>
            this.log.warn({ err: e, run_id: task.runId }, 'infrastructure unavailable; retrying'),
          );
        } finally {
          clearInterval(watch);
        }
      }),
    );
  }

  private async run(task: Task, stopped: AbortSignal): Promise<void> {
    if (!isTaskKind(task.kind)) throw new PermanentError(`unknown task kind "${task.kind}"`);
    const leaseMs = this.config.work.ackWaitMs;
    const claim = await this.repo.claim(task, this.config.instanceId, leaseMs);
    if (!claim.runExists) throw new PermanentError(`run ${task.runId} does not exist`);
    const row = claim.row;
    if (!row) throw new PermanentError(`task ${task.taskId} has no row`);
    if (claim.heldUntil) {
      // another delivery is working on it (JetStream redelivered a task whose worker was slow
      // to acknowledge): look again once that delivery's lease would have run out
      const wait = Math.max(250, claim.heldUntil.getTime() - Date.now() + 100);
      throw new RetryableError(
        `task ${task.taskId} is held by ${row.claimed_by ?? 'another delivery'}`,
        wait,
      );
    }
    if (claim.attempt === undefined) {
      // settled by an earlier delivery, whose announcement may not have gone out
      await this.events.announce(row);
      return;
    }
    const parsed = parseTaskInput(task.kind, task.input);
    if ('error' in parsed) {
      // a poison task: the run learns it failed, and the message goes to DLQ with the reason
      if (await this.repo.fail(row.id, parsed.error, []))
        tasks.inc({ kind: task.kind, outcome: 'invalid' });
      await this.announceLatest(task);
      throw new PermanentError(parsed.error);
    }
    const started = performance.now();
    let outcome: TaskOutcome;
    // hold the task while working on it
    const renewal = setInterval(() => {
      this.repo.renew(row.id, this.config.instanceId, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    try {
      outcome = await this.perform(task, parsed, stopped);
    } catch (err) {
      clearInterval(renewal);
      const seconds = (performance.now() - started) / 1000;
      const tried = isProviderChainError(err) ? err.attempts : [];
      if (stopped.aborted) {
        const why = `stopped: ${messageOf(stopped.reason)}`;
        taskSeconds.observe({ kind: task.kind, outcome: 'stopped' }, seconds);
        this.log.info({ run_id: task.runId, why }, 'task stopped with its run');
        if (await this.repo.fail(row.id, why, tried))
          tasks.inc({ kind: task.kind, outcome: 'stopped' });
        await this.announceLatest(task);
        return;
      }
      const retryable = !isProviderError(err) || RETRYABLE.has(err.kind);
      const message = messageOf(err);
      if (retryable && claim.attempt < TASK_MAX_ATTEMPTS) {
        taskSeconds.observe({ kind: task.kind, outcome: 'retry' }, seconds);
        await this.repo.recordAttemptFailure(row.id, message, tried);
        const asked = isProviderError(err) ? err.retryAfterMs : undefined;
        const backoff = TASK_BACKOFF_MS[Math.min(claim.attempt, TASK_BACKOFF_MS.length) - 1];
        this.log.warn(
          { run_id: task.runId, attempt: claim.attempt, err: message },
          'task failed; retrying',
        );
        throw new RetryableError(message, asked ?? backoff, { cause: err });
      }
      taskSeconds.observe({ kind: task.kind, outcome: 'failed' }, seconds);
      this.log.warn({ run_id: task.runId, attempt: claim.attempt, err: message }, 'task failed');
      if (await this.repo.fail(row.id, message, tried))
        tasks.inc({ kind: task.kind, outcome: 'failed' });
      await this.announceLatest(task);
      return;
    }
    clearInterval(renewal);
    taskSeconds.observe({ kind: task.kind, outcome: 'ok' }, (performance.now() - started) / 1000);
    if (await this.repo.succeed(row.id, outcome)) tasks.inc({ kind: task.kind, outcome: 'ok' });
    await this.announceLatest(task);
  }

  /** Announces the task as its row now says (this delivery's outcome, or another's that won). */
  private async announceLatest(task: Task): Promise<void> {
    const row = await this.repo.get(task);
    if (row) await this.events.announce(row);
  }

  /**
   * Streams the answer from the chain, sending each text delta on `live.<runId>.token` (signed,
   * in order, without waiting for anyone: a slow bus never slows the model down), and returns
   * it whole. A delta carries its task and a sequence number, so a listener can tell two
   * tasks' answers, and a retried attempt's, apart.
   */
  private async streamed(
    task: Task,
    chain: ReturnType<ProviderChains['for']>,
    req: Parameters<ReturnType<ProviderChains['for']>['chat']>[0],
  ): Promise<ChainChatResult> {
    const subject = liveTokenSubject(task.runId);
    const attempt = randomUUID().slice(0, 8);
    let seq = 0;
    let sending: Promise<void> = Promise.resolve();
    const send = (text: string, done: boolean): void => {
      const n = seq++;
      const json = { runId: task.runId, taskId: task.taskId, attempt, seq: n, text, done };
      sending = sending
        .then(() =>
          this.bus.emit(subject, { json }, `${task.runId}:${task.taskId}:${attempt}:${n}:tok`),
        )
        .catch((err: unknown) => this.log.debug({ err }, 'token not sent'));
    };
    for await (const ev of chain.stream(req)) {
      if (ev.type === 'delta') {
        if (ev.text) send(ev.text, false);
        continue;
      }
      send('', true);
      await sending;
      const { type: _type, ...result } = ev;
      return result;
    }
    throw new Error('the provider stream ended without its final event');
  }

  /** Runs the task on its group's chain within its budget. */
  private async perform(task: Task, t: TaskInput, stopped: AbortSignal): Promise<TaskOutcome> {
    const chain = this.chains.for(task.group);
    const timeoutMs = task.budget?.timeoutMs || this.config.work.taskTimeoutMs;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stopped]);
    const taskId = `${task.runId}:${task.iteration}:${task.taskId}`;
    if (t.kind === 'embed') {
      const r = await chain.embed({ texts: t.input.texts, signal, timeoutMs, taskId });
      return {
        output: {
          vectors: r.vectors.map((v) => Array.from(v)),
          dimensions: r.vectors[0]?.length ?? 0,
        },
        provider: r.provider,
        model: r.model,
        promptTokens: r.usage.promptTokens,
        completionTokens: 0,
        tried: r.attempts,
      };
    }
    const req = {
      messages: t.input.messages,
      ...(t.input.context ? { context: t.input.context } : {}),
      ...(t.input.temperature === undefined ? {} : { temperature: t.input.temperature }),
      ...(t.input.user ? { user: t.input.user } : {}),
      ...(task.budget?.maxTokens ? { maxTokens: task.budget.maxTokens } : {}),
      signal,
      timeoutMs,
      taskId,
    };
    const r = t.input.live ? await this.streamed(task, chain, req) : await chain.chat(req);
    return {
      output: { text: r.text, finishReason: r.finishReason, usageSource: r.usage.source },
      provider: r.provider,
      model: r.model,
      promptTokens: r.usage.promptTokens,
      completionTokens: r.usage.completionTokens,
      tried: r.attempts,
    };
  }
}
