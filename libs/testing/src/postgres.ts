import { createHash, randomBytes } from 'node:crypto';
import { ensureDatabase, dropDatabase, migrateToLatest, migrations } from '@heady/db';
import pg from 'pg';

/** The server tests use: the machine's PostgreSQL unless `HEADY_TEST_DATABASE_URL` points elsewhere. */
export const TEST_PG_URL =
  process.env.HEADY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function urlFor(name: string): string {
  const u = new URL(TEST_PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A throw-away database for one test file. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

// The template's name changes whenever the set of migrations does, so a stale template is never reused.
const templateName = `heady_tpl_${createHash('sha256').update(Object.keys(migrations).join(',')).digest('hex').slice(0, 12)}`;

async function withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Creates a fresh database cloned from a migrated template (immich style): the template
 * is migrated once per migration set, under an advisory lock so parallel test files agree.
 */
export async function createTestDatabase(prefix = 'heady_test'): Promise<TestDatabase> {
  await withAdvisoryLock(424242, async () => {
    await ensureDatabase(urlFor(templateName));
    await migrateToLatest(urlFor(templateName));
  });
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const url = urlFor(name);
  // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template.
  await withAdvisoryLock(424242, () => ensureDatabase(url, templateName));
  return { name, url, drop: () => dropDatabase(url) };
}
