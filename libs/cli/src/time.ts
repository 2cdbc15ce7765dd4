const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A point in time as operators type it: a duration back from `now` (`90s`, `5m`, `2h`,
 * `7d`) or an ISO 8601 time (`2026-11-22T10:00:00Z`). Throws naming `flag` otherwise.
 */
export function parseTimeArg(flag: string, value: string, now = Date.now()): Date {
  const ago = /^(\d{1,9})([smhd])$/.exec(value.trim());
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]);
  // a date alone or a date and time; a bare number is not a time
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t))
    throw new Error(`${flag}: not a time: ${value} (a duration like 5m, 2h, 7d, or an ISO time)`);
  return new Date(t);
}

/** A count flag: an integer of at least 1. */
export function parseCount(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be an integer >= 1`);
  return n;
}
