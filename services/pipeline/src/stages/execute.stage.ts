import { type TaskRun } from '@heady/db';
import { type PlannedTask } from './plan-tasks.js';
import { defineStage, permanentFailure } from './stage.js';

/** What execute keeps of one task: who answered, at what cost, after how many attempts. */
function summary(r: TaskRun) {
  return {
    id: r.task_id,
    kind: r.kind,
    status: r.status,
    provider: r.provider,
    model: r.model,
    attempts: r.attempts,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
  };
}

/**
 * Stage 3. Sends the plan's tasks to the routed group's workers over the bus (`work.<group>`),
 * at most the workflow's `max_concurrent_tasks` (else HEADY_MAX_CONCURRENT_TASKS) in flight,
 * and completes when every task has answered; their answers stay in `task_runs` (finalize
 * reads them), this stage records who answered and the tokens used. A task that failed for
 * good, or tasks still unanswered after HEADY_EXECUTE_TIMEOUT_MS, fail the stage for good and
 * the run is compensated; a cancelled run stops the wait at the next heartbeat.
 */
export const execute = defineStage(
  // the wait is bounded by HEADY_EXECUTE_TIMEOUT_MS (at most an hour) inside the stage
  { name: 'execute', timeoutMs: 3_660_000 },
  async ({ reads, cmd, config, work }) => {
    const plan = (await reads.succeededOutputs(cmd.iteration)).find((r) => r.stage_name === 'plan')
      ?.output as { tasks?: PlannedTask[]; maxConcurrentTasks?: number | null } | undefined;
    const tasks = plan?.tasks ?? [];
    const maxInFlight = plan?.maxConcurrentTasks ?? config.maxConcurrentTasks;
    if (tasks.length === 0) {
      return {
        output: { dispatched: 0, maxConcurrentTasks: maxInFlight, tasks: [], usage: usage([]) },
        metrics: { tasks: 0, promptTokens: 0, completionTokens: 0 },
      };
    }
    const got = await work.gather(tasks, { maxInFlight, timeoutMs: config.executeTimeoutMs });
    if (got.kind === 'failed') {
      permanentFailure(`task ${got.row.task_id} failed: ${got.row.error ?? 'no reason recorded'}`);
    }
    if (got.kind === 'timeout') {
      permanentFailure(
        `${got.pending.length} of ${tasks.length} tasks (${got.pending.join(', ')}) did not answer within ${config.executeTimeoutMs} ms`,
      );
    }
    const u = usage(got.rows);
    return {
      output: {
        dispatched: tasks.length,
        maxConcurrentTasks: maxInFlight,
        tasks: got.rows.map(summary),
        usage: u,
      },
      metrics: {
        tasks: tasks.length,
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
      },
    };
  },
);

function usage(rows: TaskRun[]) {
  return {
    promptTokens: rows.reduce((n, r) => n + r.prompt_tokens, 0),
    completionTokens: rows.reduce((n, r) => n + r.completion_tokens, 0),
  };
}
