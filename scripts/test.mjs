#!/usr/bin/env node
// npm test: the full suite. Installs and builds when needed, brings up NATS/PostgreSQL/Redis,
// runs lint and the Prettier check (one test each), then every vitest project (unit, medium,
// e2e). The very last line of output is "N passed, N failed"; the exit status is non-zero
// when anything failed, vitest crashed, or nothing ran.
//
// Extra arguments go to vitest and make it a focused run (no lint/format):
//   npm test -- --project unit
//   npm test -- libs/bus
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureDeployTools, ensureInfrastructure } from '../deploy/local/up.mjs';
import { ROOT, build, installIfNeeded, log, runPnpm, run } from './lib.mjs';

const args = process.argv.slice(2);
const results = join(ROOT, '.heady', 'test-results');
const report = join(results, 'vitest.json');
let passed = 0;
let failed = 0;

function finish(message) {
  if (message) log('test', message);
  // nothing ran at all is a failure too, and says so in the summary
  if (passed === 0 && failed === 0) {
    log('test', 'no test ran');
    failed = 1;
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed > 0 ? 1 : 0);
}

try {
  await installIfNeeded();
  await build();
  await ensureInfrastructure({ log: (m) => log('infra', m) });
  // promtool, prometheus and kubectl for test/deploy
  ensureDeployTools({ log: (m) => log('infra', m) });
} catch (e) {
  failed += 1;
  finish(`setup failed: ${e.message}`);
}

async function check(name, fn, hint) {
  log('test', name);
  try {
    await fn();
    passed += 1;
  } catch {
    failed += 1;
    log('test', `FAILED ${name}${hint ? `: ${hint}` : ''}`);
  }
}

if (!args.length) {
  await check('lint and type-check (turbo run lint typecheck)', () =>
    runPnpm(['exec', 'turbo', 'run', 'lint', 'typecheck', '--output-logs=errors-only']),
  );
  await check(
    'format (prettier --check .)',
    () => runPnpm(['exec', 'prettier', '--check', '.', '--log-level', 'warn']),
    'run `npm run format`',
  );
}

mkdirSync(results, { recursive: true });
rmSync(report, { force: true });
const reporters = ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
// on the command line --reporter replaces the config's reporters: keep its junit file in CI
if (process.env.CI)
  reporters.push('--reporter=junit', `--outputFile.junit=${join(results, 'junit.xml')}`);
log('test', `vitest run ${args.join(' ')}`.trim());
let vitestError;
try {
  await run(process.execPath, [
    join(ROOT, 'node_modules/vitest/vitest.mjs'),
    'run',
    ...reporters,
    ...args,
  ]);
} catch (e) {
  vitestError = e;
}

let r;
try {
  r = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  failed += 1;
  finish(`vitest wrote no report${vitestError ? ` (${vitestError.message})` : ''}`);
}
passed += r.numPassedTests ?? 0;
failed += r.numFailedTests ?? 0;
// a file that failed to load, or crashed in a hook, has no failed test of its own: count it
for (const f of r.testResults ?? []) {
  if (f.status !== 'failed' || (f.assertionResults ?? []).some((a) => a.status === 'failed'))
    continue;
  failed += 1;
  log('test', `FAILED suite ${relative(ROOT, f.name)}: ${(f.message || 'failed').split('\n')[0]}`);
}
if (vitestError && failed === 0) {
  // e.g. an unhandled error outside any test: vitest fails the run without failing a test
  failed += 1;
  log('test', `vitest exited non-zero without a failing test (${vitestError.message})`);
}
finish();
