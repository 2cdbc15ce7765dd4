import { type Kysely, sql } from 'kysely';

// The conductor's routing table is data, not code: groups and actions can be added at
// run time. Seeded with the twelve groups of DESIGN-REFERENCE.md.
export const SEED_GROUPS: ReadonlyArray<
  readonly [group: string, weight: number, actions: readonly string[]]
> = [
  ['reasoning', 1.0, ['chat', 'complete', 'analyze', 'refactor']],
  ['coding', 0.95, ['code', 'refactor_logic', 'pr_review']],
  ['intelligence', 0.9, ['meta', 'logic', 'brain']],
  ['sims', 0.85, ['simulate', 'predict', 'monte_carlo']],
  ['embedding', 0.8, ['embed', 'store']],
  ['swarm', 0.8, ['forage', 'hive', 'swarm_nudge']],
  ['search', 0.75, ['search', 'query']],
  ['battle', 0.7, ['validate', 'arena']],
  ['creative', 0.6, ['generate', 'remix']],
  ['vision', 0.5, ['scan', 'detect', 'ocr']],
  ['governance', 0.4, ['audit', 'policy', 'compliance']],
  ['ops', 0.3, ['health', 'deploy', 'status']],
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE service_groups (
      name TEXT PRIMARY KEY, weight REAL NOT NULL CHECK (weight > 0), enabled BOOLEAN NOT NULL DEFAULT true,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE routing_actions (
      action TEXT PRIMARY KEY, group_name TEXT NOT NULL REFERENCES service_groups(name) ON UPDATE CASCADE,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now());
  `.execute(db);
  for (const [group, weight, actions] of SEED_GROUPS) {
    await sql`INSERT INTO service_groups (name, weight) VALUES (${group}, ${weight})`.execute(db);
    for (const action of actions) {
      await sql`INSERT INTO routing_actions (action, group_name) VALUES (${action}, ${group})`.execute(
        db,
      );
    }
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE routing_actions; DROP TABLE service_groups;`.execute(db);
}
