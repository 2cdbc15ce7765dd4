import { describe, expect, it } from 'vitest';
import { type ModelPrice, priceFor, taskCostMicros, usageOf } from './cost.js';

const PRICES: ModelPrice[] = [
  { provider: '*', model: '*', inputUsdPerMtok: 1, outputUsdPerMtok: 2 },
  { provider: 'local', model: '*', inputUsdPerMtok: 0, outputUsdPerMtok: 0 },
  { provider: 'openai', model: 'gpt-4o-mini', inputUsdPerMtok: 0.15, outputUsdPerMtok: 0.6 },
];

describe(priceFor.name, () => {
  it('prefers the exact model, then the provider, then the catch-all', () => {
    expect(priceFor(PRICES, 'openai', 'gpt-4o-mini').inputUsdPerMtok).toBe(0.15);
    expect(priceFor(PRICES, 'local', 'anything').outputUsdPerMtok).toBe(0);
    expect(priceFor(PRICES, 'openai', 'gpt-5').inputUsdPerMtok).toBe(1);
    expect(priceFor([], 'x', 'y').inputUsdPerMtok).toBe(0);
  });
});

describe(usageOf.name, () => {
  it('costs each task in micro-dollars and sums a run by provider and model', () => {
    const t = (
      provider: string,
      model: string,
      promptTokens: number,
      completionTokens: number,
    ) => ({
      provider,
      model,
      promptTokens,
      completionTokens,
    });
    // 1000 in × 0.15 + 500 out × 0.6 = 450 micro-dollars
    expect(taskCostMicros(t('openai', 'gpt-4o-mini', 1000, 500), PRICES[2]!)).toBe(450);
    const u = usageOf(
      { runId: 'r', orgId: 'o', action: 'chat', status: 'SUCCEEDED', finishedAt: new Date(0) },
      [
        t('openai', 'gpt-4o-mini', 1000, 500),
        t('openai', 'gpt-4o-mini', 10, 10),
        t('local', 'x', 99, 99),
      ],
      PRICES,
    );
    expect(u).toMatchObject({ tokensIn: 1109, tokensOut: 609, tasks: 3, costMicros: 450 + 8 });
    expect(u.byModel.map((g) => [g.provider, g.model, g.tasks, g.costMicros])).toEqual([
      ['local', 'x', 1, 0],
      ['openai', 'gpt-4o-mini', 2, 458],
    ]);
  });
});
