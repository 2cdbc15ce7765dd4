import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// DuckDB is reached only through repositories (issue 14): controllers, services and the
// HNSW index ask a repository, so the one connection's serial queue and its transactions
// live in one place. This scans vector memory's sources for any other use of the client.
const SRC = fileURLToPath(new URL('../', import.meta.url));
const OWNER = 'memory/vectors.repository.ts';

/** `path:line` of every import of the DuckDB client in `text`. */
export function duckdbImportsIn(path: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (/\bfrom\s+['"]@duckdb\/|\b(import|require)\s*\(\s*['"]@duckdb\//.test(line))
      found.push(`${path}:${i + 1}`);
  });
  return found;
}

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* sources(join(dir, e.name));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) yield join(dir, e.name);
  }
}

describe('DuckDB has one owner in vector memory', () => {
  it('finds static and dynamic imports of the client', () => {
    expect(duckdbImportsIn('a.ts', "import { DuckDBInstance } from '@duckdb/node-api';")).toEqual([
      'a.ts:1',
    ]);
    expect(duckdbImportsIn('a.ts', "x\nconst d = await import('@duckdb/node-api');")).toEqual([
      'a.ts:2',
    ]);
    expect(duckdbImportsIn('a.ts', "import { Index } from 'usearch';")).toEqual([]);
  });

  it('finds the repository importing it (the scan sees the owner)', () => {
    expect(duckdbImportsIn(OWNER, readFileSync(join(SRC, OWNER), 'utf8'))).not.toEqual([]);
  });

  it('is imported by no file but a *.repository.ts', () => {
    const offenders: string[] = [];
    let scanned = 0;
    for (const file of sources(SRC)) {
      const path = relative(SRC, file).split(sep).join('/');
      scanned++;
      if (path.endsWith('.repository.ts')) continue;
      offenders.push(...duckdbImportsIn(path, readFileSync(file, 'utf8')));
    }
    expect(scanned).toBeGreaterThan(8);
    expect(offenders, `reach DuckDB through a repository (${OWNER})`).toEqual([]);
  });
});
