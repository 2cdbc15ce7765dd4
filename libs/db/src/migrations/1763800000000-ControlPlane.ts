import { type Kysely, sql } from 'kysely';

// Control-plane tables of DESIGN-REFERENCE.md, column for column.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE services (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, base_url TEXT NOT NULL,
      health_path TEXT NOT NULL DEFAULT '/api/health', status TEXT NOT NULL DEFAULT 'UNKNOWN',
      last_healthy_at TIMESTAMPTZ, metadata JSONB NOT NULL DEFAULT '{}',
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, runtime TEXT NOT NULL DEFAULT 'node',
      triggers TEXT[] NOT NULL DEFAULT '{}', enabled BOOLEAN NOT NULL DEFAULT true,
      metadata JSONB NOT NULL DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE workflows (
      id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL DEFAULT 'hcfullpipeline',
      max_concurrent_tasks INT NOT NULL DEFAULT 6, governance JSONB NOT NULL DEFAULT '{}',
      created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO workflows (id) VALUES ('hcfullpipeline');
    CREATE TABLE audit_logs (
      id UUID PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
      status TEXT NOT NULL, details JSONB NOT NULL DEFAULT '{}',
      timestamp TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE INDEX audit_logs_timestamp_idx ON audit_logs (timestamp);
    CREATE INDEX audit_logs_action_idx ON audit_logs (action, timestamp);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE audit_logs; DROP TABLE workflows; DROP TABLE nodes; DROP TABLE services;`.execute(
    db,
  );
}
