import { describe, expect, it } from 'vitest';
import { reciprocalRankFusion, relativeScoreFusion } from './fusion.js';

const L = (...xs: number[]): { label: bigint }[] => xs.map((x) => ({ label: BigInt(x) }));

describe(reciprocalRankFusion.name, () => {
  it('puts what both lists agree on first and records both ranks', () => {
    const fused = reciprocalRankFusion(L(1, 2, 3), L(3, 4, 1), 60);
    expect(fused.map((f) => f.label)).toEqual([1n, 3n, 2n, 4n]);
    expect(fused[0]).toEqual({ label: 1n, score: 1 / 61 + 1 / 63, lexicalRank: 1, vectorRank: 3 });
    expect(fused.find((f) => f.label === 4n)).toMatchObject({ lexicalRank: null, vectorRank: 2 });
  });

  it('lets a smaller k favour the first ranks of a single list more', () => {
    // label 9 is first in one list only; 5 is third in both
    const lists = [L(9, 7, 5), L(8, 6, 5)] as const;
    expect(reciprocalRankFusion(...lists, 60)[0]?.label).toBe(5n);
    expect(reciprocalRankFusion(...lists, 1)[0]?.label).not.toBe(5n);
  });

  it('counts a label once per list', () => {
    const [only] = reciprocalRankFusion(L(1, 1), L(), 60);
    expect(only?.score).toBe(1 / 61);
  });
});

describe(relativeScoreFusion.name, () => {
  const S = (...xs: [number, number][]) =>
    xs.map(([label, score]) => ({ label: BigInt(label), score }));

  it('divides each list by its best score and weighs them by alpha', () => {
    const fused = relativeScoreFusion(S([1, 10], [2, 5]), S([2, 0.8], [3, 0.4]), 0.7);
    expect(fused.map((f) => f.label)).toEqual([1n, 2n, 3n]);
    expect(fused[0]).toEqual({ label: 1n, score: 0.7, lexicalRank: 1, vectorRank: null });
    expect(fused[1]?.score).toBeCloseTo(0.7 * 0.5 + 0.3 * 1, 10);
    expect(fused[2]?.score).toBeCloseTo(0.3 * 0.5, 10);
  });

  it('lets a far-ahead lexical hit win where rank fusion would not', () => {
    // 1 is far ahead lexically but only 5th by vectors; 2 is a close 2nd lexically and 1st by vectors
    const lex = S([1, 30], [2, 10], [7, 9], [8, 8]);
    const vec = S([2, 0.9], [6, 0.89], [7, 0.88], [8, 0.87], [1, 0.86]);
    expect(relativeScoreFusion(lex, vec, 0.7)[0]?.label).toBe(1n);
    expect(reciprocalRankFusion(lex, vec, 60)[0]?.label).toBe(2n);
  });

  it('is the lexical order at alpha 1 and the vector order at alpha 0', () => {
    const lex = S([1, 3], [2, 2]);
    const vec = S([2, 0.9], [1, 0.1]);
    expect(relativeScoreFusion(lex, vec, 1).map((f) => f.label)).toEqual([1n, 2n]);
    expect(relativeScoreFusion(lex, vec, 0).map((f) => f.label)).toEqual([2n, 1n]);
  });
});
