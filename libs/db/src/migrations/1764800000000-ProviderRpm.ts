import { type Kysely, sql } from 'kysely';

// A provider's requests-per-minute budget (its API key's limit), shared by every workers
// process through Redis; NULL: no budget beyond the provider's own 429s.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE model_providers
      ADD COLUMN rpm INT CHECK (rpm BETWEEN 1 AND 1000000)
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE model_providers DROP COLUMN rpm`.execute(db);
}
