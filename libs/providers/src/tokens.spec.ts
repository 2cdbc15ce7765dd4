import { describe, expect, it } from 'vitest';
import { countTokens } from './tokens.js';

describe('countTokens', () => {
  it('counts a text by the o200k_base encoding', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('hello world, hello world')).toBeGreaterThan(countTokens('hello world'));
  });

  it('adds the per-message overhead to a conversation', () => {
    const one = [{ role: 'user' as const, content: 'hello world' }];
    // 3 to prime + 3 for the message + role + content
    expect(countTokens(one)).toBe(3 + 3 + countTokens('user') + 2);
    expect(countTokens([])).toBe(0);
  });
});
