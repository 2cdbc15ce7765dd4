import { describe, expect, it } from 'vitest';
import { LocalHashEmbedder } from './embeddings.js';

const cos = (a: Float32Array, b: Float32Array): number =>
  a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

describe(LocalHashEmbedder.name, () => {
  const e = new LocalHashEmbedder(384);

  it('is deterministic and unit length', () => {
    const a = e.embedOne('The tariff on imported steel');
    const b = new LocalHashEmbedder(384).embedOne('The tariff on imported steel');
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(cos(a, a)).toBeCloseTo(1, 5);
  });

  it('puts texts sharing words closer than texts sharing none', () => {
    const q = e.embedOne('tariffs on steel imports');
    const near = e.embedOne('the steel tariff protects imports from abroad');
    const far = e.embedOne('a vaccination campaign for children');
    expect(cos(q, near)).toBeGreaterThan(cos(q, far) + 0.2);
  });

  it('matches word fragments (character trigrams), so inflections stay close', () => {
    const a = e.embedOne('negotiations');
    const b = e.embedOne('negotiated');
    const c = e.embedOne('umbrella');
    expect(cos(a, b)).toBeGreaterThan(cos(a, c) + 0.2);
  });

  it('ignores case and punctuation, and gives an empty text the zero vector', () => {
    expect(Array.from(e.embedOne('Hello, WORLD!'))).toEqual(Array.from(e.embedOne('hello world')));
    expect(e.embedOne('  ...  ').every((x) => x === 0)).toBe(true);
  });
});
