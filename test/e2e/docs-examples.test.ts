import { REPO_ROOT } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The documents whose `sh runnable` blocks are run; a newcomer reads them first. */
const DOCUMENTS = ['README.md', 'docs/vector-memory.md'];

interface Example {
  document: string;
  line: number;
  script: string;
  /** The status of each request, in order, as its `# → NNN` comment says. */
  statuses: number[];
}

/** The fenced blocks marked `sh runnable` of a Markdown document. */
export function runnableBlocks(document: string, text: string): Example[] {
  const out: Example[] = [];
  const fence = /^```sh runnable\n([\s\S]*?)^```$/gm;
  for (const m of text.matchAll(fence)) {
    const script = m[1] ?? '';
    out.push({
      document,
      line: text.slice(0, m.index).split('\n').length,
      script,
      statuses: [...script.matchAll(/# → (\d{3})\b/g)].map((s) => Number(s[1])),
    });
  }
  return out;
}

/**
 * Each `curl` of an example goes to the real curl, its status recorded in order; `npx heady`
 * to the built CLI against this stack (`test/npx-heady.test.ts` covers the bin itself).
 */
const PRELUDE = `set -euo pipefail
curl() {
  local body; body=$(mktemp)
  local code; code=$(command curl -sS -o "$body" -w '%{http_code}' "$@")
  echo "$code" >> "$STATUS_FILE"
  cat "$body"; rm -f "$body"
}
npx() {
  [ "$1" = heady ] || { echo "only npx heady is provided here" >&2; return 1; }
  shift; node "$HEADY_CLI" "$@"
}
`;

// The README's and docs' runnable examples, run as written against the services as separate
// processes: a broken example (a wrong route, body, header or status) fails CI.
describe('documented examples', () => {
  const system = withSystem({
    database: 'heady_e2e_docs',
    services: ['conductor', 'pipeline', 'vector-memory', 'gateway', 'workers'],
  });
  let cwd: string;

  beforeAll(() => {
    // the examples read the admin key where npm start writes it
    cwd = mkdtempSync(join(tmpdir(), 'heady-docs-'));
    mkdirSync(join(cwd, '.heady'));
    writeFileSync(
      join(cwd, '.heady', 'credentials.json'),
      JSON.stringify({ gateway: system.gatewayUrl, ...system.credentials }),
    );
  });

  afterAll(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  const examples = DOCUMENTS.flatMap((d) =>
    runnableBlocks(d, readFileSync(join(REPO_ROOT, d), 'utf8')),
  );

  it('finds the runnable examples, each with the statuses it promises', () => {
    expect(examples.map((e) => e.document)).toEqual(DOCUMENTS);
    for (const e of examples) expect(e.statuses.length).toBeGreaterThan(0);
  });

  it.each(examples.map((e) => [`${e.document}:${e.line}`, e] as const))(
    'runs %s as written, each request answering its documented status',
    async (_where, example) => {
      const statusFile = join(cwd, `statuses-${example.line}`);
      const gateway = new URL(system.gatewayUrl).host;
      const script = PRELUDE + example.script.replaceAll('localhost:8080', gateway);
      const { stdout } = await promisify(execFile)('bash', ['-c', script], {
        cwd,
        timeout: 60_000,
        env: {
          ...process.env,
          STATUS_FILE: statusFile,
          HEADY_CLI: join(REPO_ROOT, 'libs/cli/dist/main.js'),
          NATS_URL: system.nats.url,
          DATABASE_URL: system.pg.url,
          HEADY_DATA_DIR: system.stack.dataDir,
        },
      });
      const statuses = readFileSync(statusFile, 'utf8').trim().split('\n').map(Number);
      expect(statuses, stdout).toEqual(example.statuses);
    },
    60_000,
  );
});
