import { type Kysely, sql } from 'kysely';

// Device sync and privacy (services/device-sync owns these tables). Every row names its
// organization and a user of it; users are the identity tables' `users`.
//
// - consents: one row per consent period, never updated but to close it (revoked_at), so
//   every change is kept.
// - devices: a device's public keys (signing and key agreement) as JSON text; revocation
//   records the sync log's head at that moment (`revoked_after_seq`).
// - device_sync_blobs: each user's sync log, a hash chain (`seq`, `prev_hash`, `hash`);
//   `cipher_text` is end-to-end encrypted, the server holds no key to it.
// - device_key_shares: a content key sealed by one device to another (the server cannot open it).
// - device_request_nonces: nonces of device-signed requests seen within the clock window (replays).
// - tracking_events: consented tracking, minimised (no IP address, allow-listed properties).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE consents (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      scope TEXT NOT NULL CHECK (scope IN ('TRACKING', 'DEVICE_SYNC', 'VOICE')),
      granted BOOLEAN NOT NULL, granted_at TIMESTAMPTZ, revoked_at TIMESTAMPTZ,
      created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX consents_user_idx ON consents (org_id, user_id, scope, created_at DESC);
    CREATE TABLE devices (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      device_public_key TEXT NOT NULL, device_name TEXT,
      last_seen_at TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      revoked_at TIMESTAMPTZ, revoked_after_seq BIGINT);
    CREATE INDEX devices_user_idx ON devices (org_id, user_id);
    CREATE TABLE device_sync_blobs (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      device_id UUID NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
      seq BIGINT NOT NULL CHECK (seq > 0), prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
      version INT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL, nonce TEXT NOT NULL,
      cipher_text TEXT NOT NULL, signature TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      UNIQUE (org_id, user_id, seq));
    CREATE TABLE device_key_shares (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      key_id TEXT NOT NULL,
      device_id UUID NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
      from_device_id UUID NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
      sealed TEXT NOT NULL, signature TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
      UNIQUE (device_id, key_id));
    CREATE TABLE device_request_nonces (
      device_id UUID NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
      nonce TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (device_id, nonce));
    CREATE INDEX device_request_nonces_seen_idx ON device_request_nonces (seen_at);
    CREATE TABLE tracking_events (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      consent_id UUID NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
      event TEXT NOT NULL, properties JSONB NOT NULL DEFAULT '{}',
      created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE INDEX tracking_events_user_idx ON tracking_events (org_id, user_id, created_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE tracking_events; DROP TABLE device_request_nonces; DROP TABLE device_key_shares;
    DROP TABLE device_sync_blobs; DROP TABLE devices; DROP TABLE consents;
  `.execute(db);
}
