import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Only the run-state repository writes `pipeline_runs` (issue 14): a run's status moves by
// named transitions guarded by the statuses they may leave from, so no second writer can
// overwrite an end another one recorded. This scans the monorepo's code for any other write.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OWNER = 'libs/db/src/run-state.repository.ts';
const SKIP_DIRS = new Set(['node_modules', 'dist', 'dist-check', '.git', '.turbo', '.heady']);
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** Writes of the table through kysely's builder or in raw SQL. */
const WRITES = [
  /\.(insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(\s*['"`]pipeline_runs\b/,
  /\b(insert\s+into|update|delete\s+from|truncate(\s+table)?|merge\s+into)\s+(only\s+)?pipeline_runs\b/i,
];

/** Files that may write it: the owner; migrations (they shape the table); tests' fixtures. */
function exempt(path: string): boolean {
  return (
    path === OWNER ||
    path.includes('/migrations/') ||
    path.startsWith('test/') ||
    /(^|\/)test\//.test(path) ||
    /\.(spec|test)\.[cm]?[jt]s$/.test(path)
  );
}

function* codeFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) yield* codeFiles(join(dir, e.name));
    } else if (CODE.test(e.name) && !e.name.endsWith('.d.ts')) {
      yield join(dir, e.name);
    }
  }
}

/** `path:line` of every write of `pipeline_runs` in `text`. */
export function writesIn(path: string, text: string): string[] {
  const found: string[] = [];
  // a builder call may be split over lines: `.updateTable(\n 'pipeline_runs')`
  const flat = text.replace(/\(\s+/g, '(');
  flat.split('\n').forEach((line, i) => {
    if (WRITES.some((re) => re.test(line))) found.push(`${path}:${i + 1}`);
  });
  return found;
}

describe('pipeline_runs has one writer', () => {
  it('finds writes through the builder and in raw SQL', () => {
    expect(writesIn('a.ts', "db.updateTable('pipeline_runs').set({})")).toEqual(['a.ts:1']);
    expect(writesIn('a.ts', "x\n  .insertInto(\n  'pipeline_runs')")).toEqual(['a.ts:2']);
    expect(writesIn('a.ts', 'tx.deleteFrom("pipeline_runs as r")')).toEqual(['a.ts:1']);
    expect(writesIn('a.ts', 'sql`UPDATE pipeline_runs SET status = 1`')).toEqual(['a.ts:1']);
    expect(writesIn('a.ts', 'sql`delete from pipeline_runs`')).toEqual(['a.ts:1']);
    expect(writesIn('a.ts', "db.selectFrom('pipeline_runs')")).toEqual([]);
    expect(writesIn('a.ts', "db.updateTable('pipeline_stage_runs')")).toEqual([]);
  });

  it('finds the owner writing it (the scan sees the repository)', () => {
    const text = readFileSync(join(ROOT, OWNER), 'utf8');
    expect(writesIn(OWNER, text).length).toBeGreaterThan(3);
  });

  it('is written by no file but the run-state repository', () => {
    const offenders: string[] = [];
    let scanned = 0;
    for (const file of codeFiles(ROOT)) {
      const path = relative(ROOT, file).split(sep).join('/');
      if (exempt(path)) continue;
      scanned++;
      offenders.push(...writesIn(path, readFileSync(file, 'utf8')));
    }
    expect(scanned).toBeGreaterThan(50);
    expect(offenders, `write pipeline_runs through RunStateRepository (${OWNER})`).toEqual([]);
  });
});

/** Queries through kysely's builder or its `sql` tag. */
const QUERIES = [
  /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(/,
  /\bsql(<[^>]*>)?`/,
];

/** `path:line` of every query in `text`. */
export function queriesIn(path: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (QUERIES.some((re) => re.test(line))) found.push(`${path}:${i + 1}`);
  });
  return found;
}

// One rule for I/O (issue 14): a service's SQL lives in its repositories (`*.repository.ts`),
// so a controller, a service or a stage reads as decisions and the queries can be found in one
// place. Migrations and tests are exempt.
describe("a service's SQL lives in its repositories", () => {
  it('finds builder queries and the sql tag', () => {
    expect(queriesIn('a.ts', "await tx.selectFrom('workflows').selectAll()")).toEqual(['a.ts:1']);
    expect(queriesIn('a.ts', 'x\nawait sql`SELECT 1`.execute(db)')).toEqual(['a.ts:2']);
    expect(queriesIn('a.ts', 'sql<Date>`now()`')).toEqual(['a.ts:1']);
    expect(queriesIn('a.ts', 'const sqlText = 1; this.reads.groupWeight(g)')).toEqual([]);
  });

  it('is kept by every file under services/*/src', () => {
    const offenders: string[] = [];
    let scanned = 0;
    for (const file of codeFiles(join(ROOT, 'services'))) {
      const path = relative(ROOT, file).split(sep).join('/');
      if (!/^services\/[^/]+\/src\//.test(path) || exempt(path)) continue;
      if (path.endsWith('.repository.ts')) continue;
      scanned++;
      offenders.push(...queriesIn(path, readFileSync(file, 'utf8')));
    }
    expect(scanned).toBeGreaterThan(30);
    expect(offenders, 'move these queries into a *.repository.ts').toEqual([]);
  });
});
