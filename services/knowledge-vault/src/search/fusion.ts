/** A passage's place in a fused list, with its ranks in the lists it came from. */
export interface Fused {
  label: bigint;
  score: number;
  /** 1-based rank in the lexical list; null when it was not there. */
  lexicalRank: number | null;
  /** 1-based rank in the vector list; null when it was not there. */
  vectorRank: number | null;
}

/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009): score = Σ 1 / (k + rank) over
 * the lists a passage is in. It needs no score calibration between BM25 (unbounded) and
 * cosine (−1..1), and `k` (60 by default) damps the weight of the very first ranks. Ties
 * are broken by the better of the two ranks, then by label, so the order is deterministic.
 */
export function reciprocalRankFusion(
  lexical: readonly { label: bigint }[],
  vector: readonly { label: bigint }[],
  k: number,
): Fused[] {
  const by = new Map<bigint, Fused>();
  const at = (label: bigint): Fused => {
    let f = by.get(label);
    if (!f) {
      f = { label, score: 0, lexicalRank: null, vectorRank: null };
      by.set(label, f);
    }
    return f;
  };
  lexical.forEach((h, i) => {
    const f = at(h.label);
    if (f.lexicalRank !== null) return;
    f.lexicalRank = i + 1;
    f.score += 1 / (k + i + 1);
  });
  vector.forEach((h, i) => {
    const f = at(h.label);
    if (f.vectorRank !== null) return;
    f.vectorRank = i + 1;
    f.score += 1 / (k + i + 1);
  });
  const best = (f: Fused): number => Math.min(f.lexicalRank ?? Infinity, f.vectorRank ?? Infinity);
  return [...by.values()].sort(
    (a, b) => b.score - a.score || best(a) - best(b) || (a.label < b.label ? -1 : 1),
  );
}

/**
 * Relative-score fusion (as Weaviate's `relativeScoreFusion`, with max normalisation): each
 * list's scores are divided by that list's best, so both lie in (0, 1] whatever their scale
 * (BM25 is unbounded, cosine is not), then summed with weight `alpha` for the lexical list
 * and `1 − alpha` for the vector list. Unlike RRF it keeps how far ahead a first hit is,
 * which matters when one list is much surer than the other (see docs/knowledge-vault.md for
 * the measurements behind the default). Ties as in {@link reciprocalRankFusion}.
 */
export function relativeScoreFusion(
  lexical: readonly { label: bigint; score: number }[],
  vector: readonly { label: bigint; score: number }[],
  alpha: number,
): Fused[] {
  const by = new Map<bigint, Fused>();
  const add = (
    list: readonly { label: bigint; score: number }[],
    weight: number,
    rank: 'lexicalRank' | 'vectorRank',
  ): void => {
    const best = Math.max(0, ...list.map((h) => h.score));
    list.forEach((h, i) => {
      let f = by.get(h.label);
      if (!f) {
        f = { label: h.label, score: 0, lexicalRank: null, vectorRank: null };
        by.set(h.label, f);
      }
      if (f[rank] !== null) return;
      f[rank] = i + 1;
      if (best > 0) f.score += (weight * Math.max(0, h.score)) / best;
    });
  };
  add(lexical, alpha, 'lexicalRank');
  add(vector, 1 - alpha, 'vectorRank');
  const first = (f: Fused): number => Math.min(f.lexicalRank ?? Infinity, f.vectorRank ?? Infinity);
  return [...by.values()].sort(
    (a, b) => b.score - a.score || first(a) - first(b) || (a.label < b.label ? -1 : 1),
  );
}
