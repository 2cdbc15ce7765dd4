// The price of model work: billing costs each finished run from these (usage_records) and
// finalize shows each task's cost in the run's result, from the same price table.

/** One row of the price table (`model_prices`): US dollars per million tokens, in and out. */
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
