#!/usr/bin/env node
// npm test: the full suite. Install and build when needed, bring up NATS/PostgreSQL/Redis,
// lint, then every vitest project (unit, medium, e2e). Ends with "N passed, N failed".
// Extra arguments go to vitest: npm test -- --project unit
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureInfrastructure } from '../deploy/local/up.mjs';
import { ROOT, build, installIfNeeded, log, pnpm, run } from './lib.mjs';

const args = process.argv.slice(2);
const results = join(ROOT, '.heady', 'test-results');
const report = join(results, 'vitest.json');
let passed = 0;
let failed = 0;

function finish(extraMessage) {
  if (extraMessage) log('test', extraMessage);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

try {
  await installIfNeeded();
  await build();
  await ensureInfrastructure({ log: (m) => log('infra', m) });
} catch (e) {
  failed += 1;
  finish(`setup failed: ${e.message}`);
}

if (!args.length) {
  log('test', 'lint (turbo run lint)');
  const [cmd, ...pre] = pnpm();
  try {
    await run(cmd, [...pre, 'exec', 'turbo', 'run', 'lint', '--output-logs=errors-only']);
    passed += 1;
  } catch {
    log('test', 'lint failed');
    failed += 1;
  }
  log('test', 'format (prettier --check .)');
  try {
    await run(cmd, [...pre, 'exec', 'prettier', '--check', '.', '--log-level', 'warn']);
    passed += 1;
  } catch {
    log('test', 'formatting differs from Prettier: run `npm run format`');
    failed += 1;
  }
}

mkdirSync(results, { recursive: true });
rmSync(report, { force: true });
log('test', `vitest run ${args.join(' ')}`);
let vitestError;
try {
  await run(process.execPath, [
    join(ROOT, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...args,
  ]);
} catch (e) {
  vitestError = e;
}
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // a file that failed to load or crashed in a hook has no failed test of its own
  const brokenFiles = r.testResults.filter(
    (f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'),
  );
  for (const f of brokenFiles)
    log('test', `suite failed: ${f.name}: ${(f.message || '').split('\n')[0]}`);
  failed += brokenFiles.length;
} catch {
  failed += 1;
  log('test', `vitest produced no report${vitestError ? `: ${vitestError.message}` : ''}`);
}
if (vitestError && failed === 0) failed += 1;
finish();
