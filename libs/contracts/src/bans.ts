/**
 * Auto-bans, as the gateway keeps them in Redis and the `heady bans` command reads them.
 * A ban lives at `<prefix>ban:<subject>` (a JSON {@link BanRecord} with a TTL); the 429s
 * that lead to it are counted at `<prefix>rej:<subject>` (a sorted set by Redis time).
 */

/** `ip:<address>` for anonymous callers, `org:<organization id>` for API-key callers. */
export type BanSubject = `ip:${string}` | `org:${string}`;

/** A ban and the evidence behind it. Times are Unix milliseconds (Redis TIME). */
export interface BanRecord {
  subject: BanSubject;
  kind: 'ip' | 'org';
  /** The client address of the request that tripped the ban. */
  ip: string;
  orgId?: string;
  orgName?: string;
  /** The first 11 characters (`hk_` + 8) of the API key that tripped it. */
  keyPrefix?: string;
  /** The route of the request that tripped it, e.g. `GET /api/runs/:id`. */
  route: string;
  /** 429s counted within `windowMs`. */
  count: number;
  windowMs: number;
  firstAt: number;
  lastAt: number;
  bannedAt: number;
  /** When the ban expires. */
  until: number;
}

/** Redis key of the ban of `subject`. */
export function banKey(prefix: string, subject: string): string {
  return `${prefix}ban:${subject}`;
}

/** Redis key of the 429 log of `subject`. */
export function rejectionsKey(prefix: string, subject: string): string {
  return `${prefix}rej:${subject}`;
}
