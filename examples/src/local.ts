import { decode } from '@heady/bus';
import { type RunEvent, RunEventSchema } from '@heady/contracts';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// What every example needs to reach the stack `npm start` runs, read the way `npx heady`
// reads it. Run the examples from the repository root.

const dataDir = resolve(process.env.HEADY_DATA_DIR || '.heady');

/** The gateway's base URL: HEADY_URL, else npm start's `http://127.0.0.1:8080`. */
export const gatewayUrl = process.env.HEADY_URL ?? 'http://127.0.0.1:8080';

/**
 * The API key to call the gateway with: HEADY_API_KEY, else the development admin key
 * `npm start` wrote to `<data dir>/credentials.json`.
 */
export function apiKey(): string {
  if (process.env.HEADY_API_KEY) return process.env.HEADY_API_KEY;
  const file = join(dataDir, 'credentials.json');
  if (!existsSync(file))
    throw new Error(`no ${file}: start the stack with npm start, or set HEADY_API_KEY`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { admin: { key: string } }).admin.key;
}

/**
 * Points the bus configuration at npm start's own NATS as the operator user (the only way
 * into that server) unless NATS_URL is set, as `npx heady` does.
 */
export function useLocalNats(): void {
  const seed = join(dataDir, 'nats', 'operator.nk');
  if (!process.env.NATS_URL && existsSync(seed)) {
    process.env.NATS_URL = `nats://127.0.0.1:${process.env.HEADY_NATS_PORT || 4223}`;
    process.env.HEADY_NATS_NKEY_FILE ||= seed;
  }
}

/** The run event a RUN_EVENTS message carries, or undefined when it carries something else. */
export function runEvent(contentType: string | undefined, data: Uint8Array): RunEvent | undefined {
  try {
    return decode(contentType, data, RunEventSchema) as RunEvent;
  } catch {
    return undefined;
  }
}
