import { loadCliConfig } from '@heady/config';
import { databaseName, migrateDown, migrateToLatest, migrationStatus } from '@heady/db';
import { type Command } from 'commander';
import { type Output } from '../output.js';

/** `heady db migrate | status | down`. */
export function dbCommands(program: Command, out: Output): void {
  const db = program.command('db').description('database schema');
  db.command('migrate')
    .description('create the database when missing and apply pending migrations')
    .action(async () => {
      const { database } = loadCliConfig();
      const r = await migrateToLatest(database.url);
      out.result(
        {
          database: databaseName(database.url),
          createdDatabase: r.createdDatabase,
          applied: r.results.map((m) => m.migrationName),
        },
        (v) =>
          [
            v.createdDatabase ? `created database ${v.database}` : `database ${v.database} exists`,
            v.applied.length ? `applied: ${v.applied.join(', ')}` : 'schema is up to date',
          ].join('\n'),
      );
    });
  db.command('status')
    .description('list migrations and whether each is applied')
    .action(async () => {
      const rows = await migrationStatus(loadCliConfig().database.url);
      out.result(rows, (v) =>
        v
          .map(
            (m) => `${m.executedAt ? m.executedAt.toISOString() : 'pending'.padEnd(24)}  ${m.name}`,
          )
          .join('\n'),
      );
    });
  db.command('down')
    .description('revert the most recent migration')
    .action(async () => {
      const r = await migrateDown(loadCliConfig().database.url);
      out.result(
        { reverted: r.results.map((m) => m.migrationName) },
        (v) => `reverted: ${v.reverted.join(', ') || 'nothing'}`,
      );
    });
}
