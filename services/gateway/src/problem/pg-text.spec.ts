import { describe, expect, it } from 'vitest';
import { storableText } from './pg-text.js';

describe(storableText.name, () => {
  it('accepts ordinary text, paired surrogates and non-strings', () => {
    expect(storableText({ a: ['héllo', '💥', 1, null, true], ключ: { b: '\u202e' } })).toBe(true);
  });

  it('refuses NUL and unpaired surrogates anywhere, keys included', () => {
    expect(storableText('a\u0000b')).toBe(false);
    expect(storableText({ a: ['x', { b: '\ud800' }] })).toBe(false);
    expect(storableText({ '\udfff': 1 })).toBe(false);
    expect(storableText('\udc00\ud800')).toBe(false);
  });
});
