/** A UTF-16 surrogate without its pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (s: string): boolean => s.includes('\u0000') || LONE_SURROGATE.test(s);

/**
 * True when every string in `value` (object keys included) can be stored by PostgreSQL:
 * `text` refuses NUL, and `jsonb` also refuses unpaired surrogates. Checked at the door so
 * such input is a 422, not a failed insert deep in a service (a 503).
 */
export function storableText(value: unknown): boolean {
  if (typeof value === 'string') return !unstorable(value);
  if (Array.isArray(value)) return value.every(storableText);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).every(([k, v]) => !unstorable(k) && storableText(v));
  return true;
}

/** What a refused value is told. */
export const UNSTORABLE_TEXT = 'must not contain NUL (U+0000) or unpaired UTF-16 surrogates';
