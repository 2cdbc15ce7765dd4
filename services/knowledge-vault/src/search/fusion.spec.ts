import { describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from './fusion.js';

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
