import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_SCHEMAS } from '@heady/config';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const DOC = join(ROOT, 'docs', 'configuration.md');

function generated(): string {
  return execFileSync(
    process.execPath,
    [join(ROOT, 'scripts', 'gen-config-docs.mjs'), '--stdout'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
}

describe('docs/configuration.md', () => {
  it('is what npm run docs:config generates from libs/config', () => {
    expect(readFileSync(DOC, 'utf8'), 'run `npm run docs:config` and commit the result').toBe(
      generated(),
    );
  });

  it('names every variable of every environment schema', () => {
    const doc = readFileSync(DOC, 'utf8');
    const names = Object.values(ENV_SCHEMAS).flatMap((s) => Object.keys(s.shape));
    expect(names.length).toBeGreaterThan(50);
    for (const name of names) expect(doc).toContain(`| \`${name}\``);
  });
});
