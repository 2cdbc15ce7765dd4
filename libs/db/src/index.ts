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
export {
  COMPENSATION_FAILED,
  RUN_GOING,
  RUN_TRANSITIONS,
  RunStateRepository,
  type RunHandle,
  type RunTransition,
} from './run-state.repository.js';
export {
  RunViewRepository,
  type RunListing,
  type RunScope,
  type RunWithStages,
} from './run-view.repository.js';
export { AuditLogRepository, type AuditRecord } from './audit-log.repository.js';
export {
  ModelProvidersRepository,
  type ModelProviderRow,
  type ModelProviderSpec,
} from './model-providers.repository.js';
export { OrganizationsRepository, type OrganizationRef } from './organizations.repository.js';
export { sql, type Kysely, type Transaction } from 'kysely';
export {
  CLEARANCES,
  PLANS,
  PLAN_ACTIONS,
  planAllows,
  requiredPlanFor,
  applyPlanChange,
  ROLES,
  ROLE_CLEARANCE,
  clears,
  rolesWithin,
  createApiKey,
  ensureOrganization,
  ensureUser,
  findActiveApiKey,
  generateApiKey,
  hashApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKey,
  type ApiKeyInfo,
  type ApiKeyPrincipal,
} from './identity.js';
