import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

/** Options for {@link createDb}. */
export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * Opens a pooled kysely instance on the Heady schema. Idle clients that lose their
 * connection (PostgreSQL restart) are dropped from the pool instead of crashing the process.
 */
export function createDb(opts: DbOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? 10,
    application_name: opts.applicationName ?? 'heady',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's socket error would otherwise be an unhandled 'error' event.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
