import { type BusConnection, closeBus, connectBus } from '@heady/bus';
import { type CliConfig, loadCliConfig } from '@heady/config';
import { createDb, type Database, type Kysely } from '@heady/db';

/** Runs `fn` with a small pool on the configured database, closed afterwards. */
export async function withDb<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db = createDb({
    url: loadCliConfig().database.url,
    poolMax: 2,
    applicationName: 'heady-cli',
  });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** Runs `fn` with a connection to the configured NATS, closed afterwards. */
export async function withBus<T>(
  fn: (bus: BusConnection, config: CliConfig) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig();
  const bus = await connectBus(config, 'heady-cli');
  try {
    return await fn(bus, config);
  } finally {
    await closeBus(bus);
  }
}
