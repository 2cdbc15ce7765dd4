import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

/** Options for {@link createDb}. */
export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  /**
   * PostgreSQL `statement_timeout` of every connection, in ms (0 or unset: none): a query
   * running longer is cancelled by the server (SQLSTATE 57014) and its connection returns
   * to the pool, so one runaway query cannot hold a connection and its locks forever.
   */
  statementTimeoutMs?: number;
}

/**
 * Opens a pooled kysely instance on the Heady schema. Clients that lose their connection
 * (PostgreSQL stopped or restarted, a backend terminated) never crash the process: an idle
 * one is dropped from the pool, and a checked-out one (e.g. in a transaction waiting on
 * other work) fails its next query with "Client has encountered a connection error" and
 * is discarded when released.
 */
export function createDb(opts: DbOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? 10,
    application_name: opts.applicationName ?? 'heady',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client's socket error would otherwise be an unhandled 'error' event.
  pool.on('error', () => undefined);
  // So would a checked-out client's: the pool listens only while a client is idle, and
  // `pg_ctl stop -m fast` sends every backend a FATAL 57P01 that arrives between queries.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
