import { describe, expect, it } from 'vitest';
import { parseCount, parseTimeArg } from './time.js';

describe(parseTimeArg.name, () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it('reads a duration back from now', () => {
    expect(parseTimeArg('--since', '5m', now).toISOString()).toBe('2026-12-01T11:55:00.000Z');
    expect(parseTimeArg('--since', '90s', now).toISOString()).toBe('2026-12-01T11:58:30.000Z');
    expect(parseTimeArg('--since', '2h', now).toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(parseTimeArg('--since', '1d', now).toISOString()).toBe('2026-11-30T12:00:00.000Z');
  });
  it('reads an ISO time', () => {
    expect(parseTimeArg('--until', '2026-11-22T10:00:00Z', now).toISOString()).toBe(
      '2026-11-22T10:00:00.000Z',
    );
  });
  it('refuses anything else, naming the flag', () => {
    for (const bad of ['5', '5 minutes', '-5m', 'yesterday', '', '5y'])
      expect(() => parseTimeArg('--since', bad, now), bad).toThrow(/^--since: not a time/);
  });
});

describe(parseCount.name, () => {
  it('takes integers of at least 1 only', () => {
    expect(parseCount('--limit', '10')).toBe(10);
    for (const bad of ['0', '-1', '1.5', 'ten'])
      expect(() => parseCount('--limit', bad), bad).toThrow('--limit must be an integer >= 1');
  });
});
