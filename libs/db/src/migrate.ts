import {
  Kysely,
  type MigrationResult,
  Migrator,
  PostgresDialect,
  type MigrationProvider,
  type Migration,
} from 'kysely';
import pg from 'pg';
import { migrations } from './migrations/index.js';

class StaticMigrationProvider implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations);
  }
}

/** The database name from a postgres:// URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL has no database name: ${url}`);
  return name;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/**
 * Creates the database named in `url` when it does not exist (connecting to the
 * server's `postgres` maintenance database). Safe to call concurrently.
 * @returns true when it created the database.
 */
export async function ensureDatabase(url: string, template?: string): Promise<boolean> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    const ident = client.escapeIdentifier(name);
    const tpl = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
    try {
      await client.query(`CREATE DATABASE ${ident}${tpl}`);
      return true;
    } catch (e) {
      // Another process created it between our check and create: 42P04 duplicate_database,
      // or 23505 when both inserts race on pg_database's unique name index.
      const code = (e as { code?: string }).code;
      if (code === '42P04' || code === '23505') return false;
      throw e;
    }
  } finally {
    await client.end();
  }
}

/** Drops a database (used by tests and `heady db reset`). */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Outcome of a migration command. */
export interface MigrateOutcome {
  createdDatabase: boolean;
  results: MigrationResult[];
}

function migratorFor(url: string): { db: Kysely<unknown>; migrator: Migrator } {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
  return { db, migrator: new Migrator({ db, provider: new StaticMigrationProvider() }) };
}

async function run(
  url: string,
  step: (m: Migrator) => ReturnType<Migrator['migrateToLatest']>,
  createdDatabase: boolean,
): Promise<MigrateOutcome> {
  const { db, migrator } = migratorFor(url);
  try {
    const { error, results } = await step(migrator);
    if (error)
      throw error instanceof Error
        ? error
        : new Error(`migration failed: ${JSON.stringify(error)}`);
    return { createdDatabase, results: results ?? [] };
  } finally {
    await db.destroy();
  }
}

/** Creates the database when missing and applies every pending migration (kysely takes a lock, so concurrent callers are safe). */
export async function migrateToLatest(url: string): Promise<MigrateOutcome> {
  const created = await ensureDatabase(url);
  return run(url, (m) => m.migrateToLatest(), created);
}

/** Reverts the most recent migration. */
export async function migrateDown(url: string): Promise<MigrateOutcome> {
  return run(url, (m) => m.migrateDown(), false);
}

/** Names of all migrations with whether each is applied. */
export async function migrationStatus(
  url: string,
): Promise<{ name: string; executedAt: Date | undefined }[]> {
  const { db, migrator } = migratorFor(url);
  try {
    return (await migrator.getMigrations()).map((m) => ({
      name: m.name,
      executedAt: m.executedAt,
    }));
  } finally {
    await db.destroy();
  }
}
