// Moved here from services/vector-memory (which imports it from this library), so the
// `local` provider and the memory service embed the same text to the same vector.

/** 32-bit FNV-1a of a string (its UTF-16 code units), seeded. */
function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * The default, offline provider: **lexical and weight-free**. It is not a language
 * model and knows no synonyms; texts that share words and word fragments land near
 * each other, texts that share none do not. Each word (weight 1) and each character
 * trigram of `#word#` (weight 0.5) is hashed to a dimension and a sign (the "hashing
 * trick" with a signed hash, so collisions cancel on average instead of piling up);
 * word counts are damped with 1 + log(tf); the vector is L2-normalised. Deterministic:
 * the same text gives the same vector on every machine.
 */
export class LocalHashEmbedder {
  readonly name = 'local';
  constructor(readonly dimensions: number) {}

  /** The vector of one text. */
  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const counts = new Map<string, number>();
    for (const m of text.toLowerCase().normalize('NFKC').matchAll(WORD))
      counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
    const add = (feature: string, weight: number): void => {
      const h = fnv1a(feature, 0);
      const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
      v[h % this.dimensions] = (v[h % this.dimensions] ?? 0) + sign * weight;
    };
    for (const [word, tf] of counts) {
      const w = 1 + Math.log(tf);
      add(`w:${word}`, w);
      const padded = `#${word}#`;
      for (let i = 0; i + 3 <= padded.length; i++) add(`g:${padded.slice(i, i + 3)}`, 0.5 * w);
    }
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
    return v;
  }

  /** The vectors of texts, in their order. */
  embed(texts: string[]): Promise<Float32Array[]> {
    return Promise.resolve(texts.map((t) => this.embedOne(t)));
  }
}
