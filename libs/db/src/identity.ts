import { type Kysely, sql } from 'kysely';
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey, Classification, Database, Plan, Role } from './schema.js';

/** Clearance levels, lowest first. */
export const CLEARANCES: readonly Classification[] = [
  'PUBLIC',
  'INTERNAL',
  'PROPRIETARY',
  'RESTRICTED',
];
export const ROLES: readonly Role[] = ['viewer', 'member', 'developer', 'admin'];
export const PLANS: readonly Plan[] = ['FREE', 'PRO', 'ENTERPRISE'];

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

/** Keys, newest first; filtered by organization and/or id. */
export async function listApiKeys(
  db: Kysely<Database>,
  filter: { orgId?: string; id?: string } = {},
): Promise<ApiKeyInfo[]> {
  let q = db
    .selectFrom('api_keys as k')
    .innerJoin('organizations as o', 'o.id', 'k.org_id')
    .selectAll('k')
    .select('o.name as org_name')
    .orderBy('k.created_at', 'desc');
  if (filter.orgId) q = q.where('k.org_id', '=', filter.orgId);
  if (filter.id) q = q.where('k.id', '=', filter.id);
  return (await q.execute()).map(toInfo);
}

/** Revokes the key (idempotent); false when no such key exists in the organization (if given). */
export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  orgId?: string,
): Promise<boolean> {
  let q = db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', id);
  if (orgId) q = q.where('org_id', '=', orgId);
  const r = await q.executeTakeFirst();
  return r.numUpdatedRows > 0n;
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
