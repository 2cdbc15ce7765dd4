import { type Kysely, sql } from 'kysely';

// Identity at the gateway edge: organizations (with their plan), users, API keys.
// A key stores only its SHA-256; its role decides the caller's clearance.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE organizations (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(), name TEXT NOT NULL UNIQUE,
      plan TEXT NOT NULL DEFAULT 'FREE' CHECK (plan IN ('FREE', 'PRO', 'ENTERPRISE')),
      created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE users (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      email TEXT NOT NULL UNIQUE,
      role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'developer', 'admin')),
      created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE api_keys (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID REFERENCES users (id) ON DELETE SET NULL,
      name TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
      role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'developer', 'admin')),
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(), last_used_at TIMESTAMPTZ,
      revoked_at TIMESTAMPTZ);
    CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE api_keys; DROP TABLE users; DROP TABLE organizations;`.execute(db);
}
