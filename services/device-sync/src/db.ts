import { type Database, type Kysely } from '@heady/db';
import { type ColumnType, type Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
/** BIGINT comes back from pg as a string. */
type BigIntColumn = ColumnType<string, string | number, string | number>;

// The tables device-sync owns (migration 1765200000000-DeviceSync). They are typed here,
// beside their only reader and writer, rather than in the shared schema of libs/db.

export interface ConsentsTable {
  id: Generated<string>;
  org_id: string;
  user_id: string;
  scope: string;
  granted: boolean;
  granted_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface DevicesTable {
  id: Generated<string>;
  org_id: string;
  user_id: string;
  device_public_key: string;
  device_name: string | null;
  last_seen_at: NullableTimestamp;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_after_seq: ColumnType<
    string | null,
    string | number | null | undefined,
    string | number | null
  >;
}

export interface DeviceSyncBlobsTable {
  id: Generated<string>;
  org_id: string;
  user_id: string;
  device_id: string;
  seq: BigIntColumn;
  prev_hash: string;
  hash: string;
  version: number;
  algorithm: string;
  key_id: string;
  nonce: string;
  cipher_text: string;
  signature: string;
  created_at: Timestamp;
}

export interface DeviceKeySharesTable {
  id: Generated<string>;
  org_id: string;
  user_id: string;
  key_id: string;
  device_id: string;
  from_device_id: string;
  sealed: string;
  signature: string;
  created_at: Timestamp;
}

export interface DeviceRequestNoncesTable {
  device_id: string;
  nonce: string;
  seen_at: Timestamp;
}

export interface TrackingEventsTable {
  id: Generated<string>;
  org_id: string;
  user_id: string;
  consent_id: string;
  event: string;
  properties: ColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
}

export type DeviceTables = {
  consents: ConsentsTable;
  devices: DevicesTable;
  device_sync_blobs: DeviceSyncBlobsTable;
  device_key_shares: DeviceKeySharesTable;
  device_request_nonces: DeviceRequestNoncesTable;
  tracking_events: TrackingEventsTable;
};

export type DeviceDb = Kysely<Database & DeviceTables>;

/** The shared pool, typed with device-sync's tables as well. */
export function deviceDb(db: Kysely<Database>): DeviceDb {
  return db.withTables<DeviceTables>();
}
