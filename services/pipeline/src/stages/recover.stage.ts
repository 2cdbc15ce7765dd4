import { defineStage } from './stage.js';

interface Tried {
  provider?: string;
  outcome?: string;
  errorKind?: string;
}

/**
 * Stage 4. Says what went wrong on the way to the run's answers and how it was recovered:
 * tasks that needed more than one attempt, provider calls that failed and the fallback that
 * answered instead, and providers skipped because their circuit breaker was open or their
 * requests-per-minute budget was spent. (Tasks are
 * retried, on the group's next provider first, by the workers; a task that failed for good
 * has already failed execute.)
 */
export const recover = defineStage({ name: 'recover' }, async ({ reads, cmd }) => {
  const rows = await reads.tasks(cmd.iteration);
  const recovered = rows
    .map((r) => {
      const tried = (Array.isArray(r.tried) ? r.tried : []) as Tried[];
      const failedCalls = tried.filter((t) => t.outcome !== 'answered');
      return {
        taskId: r.task_id,
        attempts: r.attempts,
        answeredBy: r.provider,
        failedCalls: failedCalls.map((t) => ({
          provider: t.provider ?? null,
          outcome: t.outcome ?? null,
          ...(t.errorKind ? { errorKind: t.errorKind } : {}),
        })),
      };
    })
    .filter((t) => t.attempts > 1 || t.failedCalls.length > 0);
  const skipped = (outcome: string) => [
    ...new Set(
      recovered.flatMap((t) =>
        t.failedCalls.filter((c) => c.outcome === outcome).map((c) => c.provider),
      ),
    ),
  ];
  return {
    output: {
      failedTasks: rows.filter((r) => r.status === 'FAILED').length,
      retried: recovered.filter((t) => t.attempts > 1).length,
      fellBack: recovered.filter((t) => t.failedCalls.length > 0).length,
      breakersOpen: skipped('breaker_open'),
      // skipped because their requests-per-minute budget was spent
      throttled: skipped('throttled'),
      tasks: recovered,
    },
  };
});
