import { type Kysely, sql } from 'kysely';

// Gateways cache API key lookups in process; PostgreSQL tells them (NOTIFY on the
// `heady_api_keys` channel, delivered at commit) whenever what they cached stops being
// true, whoever made the change (the REST API, the CLI, another replica):
//   `key:<key_hash>` — a key was revoked, deleted or its role changed;
//   `org:<org_id>`   — an organization was renamed, changed plan or was deleted.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION heady_notify_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('heady_api_keys', 'key:' || OLD.key_hash);
      RETURN NULL;
    END $$;
    CREATE TRIGGER api_keys_changed
      AFTER UPDATE OF revoked_at, role, key_hash OR DELETE ON api_keys
      FOR EACH ROW EXECUTE FUNCTION heady_notify_api_key_change();
    CREATE FUNCTION heady_notify_org_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('heady_api_keys', 'org:' || OLD.id);
      RETURN NULL;
    END $$;
    CREATE TRIGGER organizations_changed
      AFTER UPDATE OF name, plan OR DELETE ON organizations
      FOR EACH ROW EXECUTE FUNCTION heady_notify_org_change();
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER organizations_changed ON organizations;
    DROP FUNCTION heady_notify_org_change();
    DROP TRIGGER api_keys_changed ON api_keys;
    DROP FUNCTION heady_notify_api_key_change();
  `.execute(db);
}
