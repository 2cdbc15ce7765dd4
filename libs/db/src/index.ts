export { createDb, type DbOptions } from './pool.js';
export {
  databaseName,
  dropDatabase,
  ensureDatabase,
  migrateDown,
  migrateToLatest,
  migrationStatus,
  type MigrateOutcome,
} from './migrate.js';
export { migrations, SEED_GROUPS } from './migrations/index.js';
export type * from './schema.js';
export { sql, type Kysely, type Transaction } from 'kysely';
export {
  CLEARANCES,
  PLANS,
  applyPlanChange,
  ROLES,
  ROLE_CLEARANCE,
  clears,
  createApiKey,
  ensureOrganization,
  findActiveApiKey,
  generateApiKey,
  hashApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKey,
  type ApiKeyInfo,
  type ApiKeyPrincipal,
} from './identity.js';
