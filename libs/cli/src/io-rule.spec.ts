import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// One rule for I/O (issue 14): a command parses its arguments, calls repositories and
// prints. SQL lives in repositories (`libs/db`, `src/repositories`), so the gateway and the
// CLI read one query; so do Redis and JetStream's stream manager.
const COMMANDS = fileURLToPath(new URL('./commands/', import.meta.url));

/** What a command must not do itself, and where it goes instead. */
const RULES: { what: string; re: RegExp }[] = [
  {
    what: "kysely's builder (a repository's)",
    re: /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\s*\(/,
  },
  { what: "the sql tag (a repository's)", re: /\bsql\s*(<[^>]*>)?\s*`|\bsql\.(raw|ref|id|lit)\(/ },
  { what: 'kysely imported directly', re: /from\s+['"]kysely['"]/ },
  { what: 'a Redis client (a repository owns it)', re: /from\s+['"]ioredis['"]/ },
  { what: "JetStream's manager (StreamsRepository)", re: /\.jsm\.(streams|consumers)\b/ },
];

/** `line: what` for every breach of the rule in `text`. */
export function breaches(text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const r of RULES) if (r.re.test(line)) found.push(`${i + 1}: ${r.what}`);
  });
  return found;
}

describe('the CLI commands do no I/O themselves', () => {
  it('finds queries, raw SQL and direct clients', () => {
    expect(breaches("  const r = await db.selectFrom('api_keys').select('id')")).toEqual([
      "1: kysely's builder (a repository's)",
    ]);
    expect(breaches("x\n  .insertInto('audit_logs')")).toEqual([
      "2: kysely's builder (a repository's)",
    ]);
    expect(breaches('db.updateTable ("organizations")')).toHaveLength(1);
    expect(breaches("tx.deleteFrom('api_keys')")).toHaveLength(1);
    expect(breaches('await sql`select 1`.execute(db)')).toEqual([
      "1: the sql tag (a repository's)",
    ]);
    expect(breaches('sql<number>`now()`')).toHaveLength(1);
    expect(breaches("import { sql } from 'kysely';")).toEqual(['1: kysely imported directly']);
    expect(breaches("import { Redis } from 'ioredis';")).toHaveLength(1);
    expect(breaches("await bus.jsm.streams.deleteMessage('DLQ', 1)")).toHaveLength(1);
  });

  it('lets a command call repositories and libs/bus', () => {
    expect(breaches('await new RunViewRepository(db).listRecent({ limit })')).toEqual([]);
    expect(breaches('await replayMessage(bus.jsm, pub, verifier, stream, seq)')).toEqual([]);
    expect(breaches("const sqlState = e.code === '22P02'; // not a uuid")).toEqual([]);
  });

  it('holds for every file under src/commands', () => {
    const files = readdirSync(COMMANDS).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((f) =>
      breaches(readFileSync(join(COMMANDS, f), 'utf8')).map((b) => `commands/${f}:${b}`),
    );
    expect(offenders, 'move the query or client call into a repository').toEqual([]);
  });
});
