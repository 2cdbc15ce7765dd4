import {
  type ModelPrice,
  type RunUsage,
  type TaskTokens,
  priceFor,
  taskCostMicros,
} from '@heady/contracts';

export { type ModelPrice, type TaskTokens, priceFor, taskCostMicros };

/** A run's usage from its tasks, grouped by provider and model (sorted, for stable records). */
export function usageOf(
  run: { runId: string; orgId: string; action: string; status: string; finishedAt: Date },
  tasks: readonly TaskTokens[],
  prices: readonly ModelPrice[],
): RunUsage {
  const groups = new Map<string, RunUsage['byModel'][number]>();
  for (const t of tasks) {
    const key = `${t.provider}/${t.model}`;
    const g = groups.get(key) ?? {
      provider: t.provider,
      model: t.model,
      tokensIn: 0,
      tokensOut: 0,
      tasks: 0,
      costMicros: 0,
    };
    g.tokensIn += t.promptTokens;
    g.tokensOut += t.completionTokens;
    g.tasks += 1;
    g.costMicros += taskCostMicros(t, priceFor(prices, t.provider, t.model));
    groups.set(key, g);
  }
  const byModel = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g);
  const sum = (f: (g: RunUsage['byModel'][number]) => number) =>
    byModel.reduce((n, g) => n + f(g), 0);
  return {
    runId: run.runId,
    orgId: run.orgId,
    action: run.action,
    status: run.status,
    finishedAt: run.finishedAt.toISOString(),
    tokensIn: sum((g) => g.tokensIn),
    tokensOut: sum((g) => g.tokensOut),
    tasks: sum((g) => g.tasks),
    costMicros: sum((g) => g.costMicros),
    byModel,
  };
}
