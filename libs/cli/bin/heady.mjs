#!/usr/bin/env node
// `npx heady …` (the root package depends on @heady/cli, so its bin is linked into
// node_modules/.bin). Against what `npm start` runs: unless NATS_URL is set, it connects to
// npm start's own NATS (127.0.0.1:HEADY_NATS_PORT, default 4223) as the operator user
// (<data dir>/nats/operator.nk), the only way in, since that server refuses clients without
// credentials. Nothing here writes to stdout: with --json, stdout carries only the JSON.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const seed = join(resolve(process.env.HEADY_DATA_DIR || '.heady'), 'nats', 'operator.nk');
if (!process.env.NATS_URL && existsSync(seed)) {
  process.env.NATS_URL = `nats://127.0.0.1:${process.env.HEADY_NATS_PORT || 4223}`;
  process.env.HEADY_NATS_NKEY_FILE ||= seed;
}
const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'heady: the CLI is not built yet; run `npm start` (or `npm run build`) first\n',
  );
  process.exit(1);
}
await import(main.href);
