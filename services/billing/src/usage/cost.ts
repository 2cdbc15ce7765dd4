import { type RunUsage } from '@heady/contracts';

/** One row of the price table: US dollars per million tokens, in and out. */
export interface ModelPrice {
  provider: string;
  model: string;
  inputUsdPerMtok: number;
  outputUsdPerMtok: number;
}

/** What one task reported (a `task_runs` row). */
export interface TaskTokens {
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/** The price of `provider`/`model`: exact, else the provider's `*`, else `*`/`*`, else free. */
export function priceFor(
  prices: readonly ModelPrice[],
  provider: string,
  model: string,
): ModelPrice {
  const find = (p: string, m: string) => prices.find((x) => x.provider === p && x.model === m);
  return (
    find(provider, model) ??
    find(provider, '*') ??
    find('*', '*') ?? { provider, model, inputUsdPerMtok: 0, outputUsdPerMtok: 0 }
  );
}

/**
 * A task's cost in micro-dollars: a price in dollars per million tokens is micro-dollars
 * per token, so it is tokens × price, rounded once per task.
 */
export function taskCostMicros(t: TaskTokens, price: ModelPrice): number {
  return Math.round(
    t.promptTokens * price.inputUsdPerMtok + t.completionTokens * price.outputUsdPerMtok,
  );
}

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
