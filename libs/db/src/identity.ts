import { type Kysely, sql } from 'kysely';
import { createHash, randomBytes } from 'node:crypto';
import { SEED_GROUPS } from './migrations/1763800002000-RoutingTable.js';
import { CLASSIFICATIONS, PLANS, ROLES } from '@heady/contracts';
import type { ApiKey, Classification, Database, Plan, Role } from './schema.js';

/** Clearance levels, lowest first: the classifications a caller may be cleared for. */
export const CLEARANCES: readonly Classification[] = CLASSIFICATIONS;
export { PLANS, ROLES };

/**
 * The actions each plan may start as a run, whichever route starts it (`POST /api/runs`,
 * `POST /api/brain/chat`, ...). Free: basic chat (`complete`, a plain completion — `chat`,
 * the premium brain chat, is Pro), search and analyze. Pro: all tools, i.e. every action of
 * the standard routing table. Enterprise (`'*'`): every action, including those added to the
 * routing table at run time (custom routing). Each plan includes the ones before it.
 */
export const PLAN_ACTIONS: Readonly<Record<Plan, readonly string[] | '*'>> = {
  FREE: ['complete', 'analyze', 'search', 'query'],
  PRO: SEED_GROUPS.flatMap(([, , actions]) => actions),
  ENTERPRISE: '*',
};

/** The first plan (in {@link PLANS} order) whose organizations may start `action`. */
export function requiredPlanFor(action: string): Plan {
  for (const plan of PLANS) {
    const allowed = PLAN_ACTIONS[plan];
    if (allowed === '*' || allowed.includes(action)) return plan;
  }
  return 'ENTERPRISE';
}

/** True when an organization on `plan` may start runs of `action`. */
export function planAllows(plan: Plan, action: string): boolean {
  return PLANS.indexOf(plan) >= PLANS.indexOf(requiredPlanFor(action));
}

/** The clearance a role grants. */
export const ROLE_CLEARANCE: Record<Role, Classification> = {
  viewer: 'PUBLIC',
  member: 'INTERNAL',
  developer: 'PROPRIETARY',
  admin: 'RESTRICTED',
};

/** True when `have` is at or above `need`. */
export function clears(have: Classification, need: Classification): boolean {
  return CLEARANCES.indexOf(have) >= CLEARANCES.indexOf(need);
}

/** The roles whose clearance is at or below `clearance`: the keys such a caller may manage. */
export function rolesWithin(clearance: Classification): Role[] {
  return ROLES.filter((r) => clears(clearance, ROLE_CLEARANCE[r]));
}

/** SHA-256 (hex) of an API key: keys are 256 random bits, so a fast hash is enough (no password stretching needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key: `hk_` and 43 base64url characters (256 random bits). */
export function generateApiKey(): string {
  return `hk_${randomBytes(32).toString('base64url')}`;
}

/** An API key as listed: never the key nor its hash. */
export interface ApiKeyInfo {
  id: string;
  orgId: string;
  orgName: string;
  name: string;
  prefix: string;
  role: Role;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** An active key's owner, as the gateway needs it per request. */
export interface ApiKeyPrincipal {
  keyId: string;
  orgId: string;
  orgName: string;
  plan: Plan;
  role: Role;
  /** The user a user-bound key acts for; null for an organization key. */
  userId?: string | null;
  lastUsedAt: Date | null;
}

/** The organization named `name`, created with `plan` when missing (an existing one keeps its plan). */
export async function ensureOrganization(
  db: Kysely<Database>,
  name: string,
  plan: Plan = 'FREE',
): Promise<{ id: string; name: string; plan: Plan }> {
  await db
    .insertInto('organizations')
    .values({ name, plan })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return db
    .selectFrom('organizations')
    .select(['id', 'name', 'plan'])
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
}

/** The user with `email` in the organization, created with `role` when missing. */
export async function ensureUser(
  db: Kysely<Database>,
  input: { orgId: string; email: string; role?: Role },
): Promise<{ id: string; orgId: string; email: string }> {
  await db
    .insertInto('users')
    .values({ org_id: input.orgId, email: input.email, role: input.role ?? 'member' })
    .onConflict((oc) => oc.column('email').doNothing())
    .execute();
  const u = await db
    .selectFrom('users')
    .select(['id', 'org_id', 'email'])
    .where('email', '=', input.email)
    .executeTakeFirstOrThrow();
  if (u.org_id !== input.orgId)
    throw new Error(`user ${input.email} belongs to another organization`);
  return { id: u.id, orgId: u.org_id, email: u.email };
}

/** Creates a key for the organization; the returned `key` is the only time it is ever visible. */
export async function createApiKey(
  db: Kysely<Database>,
  input: { orgId: string; name: string; role: Role; userId?: string },
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = generateApiKey();
  const row = await db
    .insertInto('api_keys')
    .values({
      org_id: input.orgId,
      user_id: input.userId ?? null,
      name: input.name,
      prefix: key.slice(0, 11),
      key_hash: hashApiKey(key),
      role: input.role,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const info = (await listApiKeys(db, { id: row.id }))[0];
  if (!info) throw new Error(`API key ${row.id} vanished after insert`);
  return { key, info };
}

function toInfo(r: ApiKey & { org_name: string }): ApiKeyInfo {
  return {
    id: r.id,
    orgId: r.org_id,
    orgName: r.org_name,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}

/** Keys, newest first; filtered by organization, id and/or role. */
export async function listApiKeys(
  db: Kysely<Database>,
  filter: { orgId?: string; id?: string; roles?: readonly Role[] } = {},
): Promise<ApiKeyInfo[]> {
  let q = db
    .selectFrom('api_keys as k')
    .innerJoin('organizations as o', 'o.id', 'k.org_id')
    .selectAll('k')
    .select('o.name as org_name')
    .orderBy('k.created_at', 'desc');
  if (filter.orgId) q = q.where('k.org_id', '=', filter.orgId);
  if (filter.id) q = q.where('k.id', '=', filter.id);
  if (filter.roles) {
    if (!filter.roles.length) return [];
    q = q.where('k.role', 'in', filter.roles);
  }
  return (await q.execute()).map(toInfo);
}

/**
 * Revokes the key (idempotent) and answers its hash; undefined when no such key exists in the
 * organization (if given) with one of `roles` (if given), so a caller cannot tell a key above
 * its clearance from none.
 */
export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  orgId?: string,
  roles?: readonly Role[],
): Promise<string | undefined> {
  if (roles && !roles.length) return undefined;
  let q = db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', id);
  if (orgId) q = q.where('org_id', '=', orgId);
  if (roles) q = q.where('role', 'in', roles);
  const r = await q.returning('key_hash').executeTakeFirst();
  return r?.key_hash;
}

/** The active (not revoked) key with this hash and its organization's plan. */
export async function findActiveApiKey(
  db: Kysely<Database>,
  keyHash: string,
): Promise<ApiKeyPrincipal | undefined> {
  const r = await db
    .selectFrom('api_keys as k')
    .innerJoin('organizations as o', 'o.id', 'k.org_id')
    .select([
      'k.id',
      'k.org_id',
      'k.role',
      'k.user_id',
      'k.last_used_at',
      'o.name as org_name',
      'o.plan as plan',
    ])
    .where('k.key_hash', '=', keyHash)
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!r) return undefined;
  return {
    keyId: r.id,
    orgId: r.org_id,
    orgName: r.org_name,
    plan: r.plan,
    role: r.role,
    userId: r.user_id,
    lastUsedAt: r.last_used_at,
  };
}

/** Records that the key was used now. */
export async function touchApiKey(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/**
 * Sets the organization's plan as of `changedAt`, unless a change at or after that time is
 * already recorded (events may come late or twice). Returns the plan now in force and
 * whether this change was applied; undefined when there is no such organization.
 */
export async function applyPlanChange(
  db: Kysely<Database>,
  orgId: string,
  plan: Plan,
  changedAt: Date,
): Promise<{ plan: Plan; applied: boolean } | undefined> {
  const updated = await db
    .updateTable('organizations')
    .set({ plan, plan_changed_at: changedAt })
    .where('id', '=', orgId)
    .where((eb) =>
      eb.or([eb('plan_changed_at', 'is', null), eb('plan_changed_at', '<', changedAt)]),
    )
    .returning('plan')
    .executeTakeFirst();
  if (updated) return { plan: updated.plan, applied: true };
  const current = await db
    .selectFrom('organizations')
    .select('plan')
    .where('id', '=', orgId)
    .executeTakeFirst();
  return current && { plan: current.plan, applied: false };
}
