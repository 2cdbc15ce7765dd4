#!/usr/bin/env node
// npm run -s heady -- <args>: the same as `npx heady <args>` (libs/cli/bin/heady.mjs), run
// from the repository root. Prefer `npx heady`: `npm run` without -s prints its banner on
// stdout, in front of `--json` output.
import { ROOT } from './lib.mjs';

process.chdir(ROOT);
await import('../libs/cli/bin/heady.mjs');
