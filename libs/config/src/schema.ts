import { z } from 'zod';

/** Names of the nine pipeline stages, in itinerary order. */
export const STAGE_NAMES = [
  'channel-entry',
  'ingest',
  'plan',
  'execute',
  'recover',
  'self-critique',
  'optimize',
  'finalize',
  'monitor',
] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Infrastructure defaults (ARCHITECTURE §6). These literals live here and nowhere else. */
export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/heady',
  redisUrl: 'redis://127.0.0.1:6379',
  gatewayPort: 8080,
  conductorOpsPort: 9101,
  pipelineOpsPort: 9102,
  vectorMemoryOpsPort: 9103,
  memoryDimensions: 384,
  maxConcurrentTasks: 6,
  streamMaxAgeDays: 7,
  duplicateWindowSeconds: 120,
  rpcTimeoutMs: 5000,
  consumerConcurrency: 32,
  keyRotationMs: 86_400_000,
  keyOverlapMs: 3_600_000,
  databasePoolMax: 20,
  dataDir: '.heady',
} as const;

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Environment shared by every process. */
export const commonEnv = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  NATS_URL: z.string().min(1).default(DEFAULTS.natsUrl),
  DATABASE_URL: z.string().url().default(DEFAULTS.databaseUrl),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(DEFAULTS.databasePoolMax),
  REDIS_URL: z.string().url().default(DEFAULTS.redisUrl),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HEADY_INSTANCE_ID: z.string().min(1).optional(),
  HEADY_DATA_DIR: z.string().min(1).default(DEFAULTS.dataDir),
  HEADY_STREAM_MAX_AGE_DAYS: z.coerce.number().positive().default(DEFAULTS.streamMaxAgeDays),
  HEADY_DUPLICATE_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULTS.duplicateWindowSeconds),
  /** Messages one process handles at once per durable consumer. */
  HEADY_CONSUMER_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(DEFAULTS.consumerConcurrency),
  HEADY_RPC_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULTS.rpcTimeoutMs),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  HEADY_OPS_PORT: port.optional(),
  /** Fault injection (`options.faults` on a run) for tests and chaos drills; never in production. */
  HEADY_FAULTS: bool.default(false),
  /** Signing of every bus message; `off` is refused in production. */
  HEADY_SIGNING: z.enum(['on', 'off']).default('on'),
  HEADY_KEYS_DIR: z.string().min(1).optional(),
  HEADY_KEY_ROTATION_MS: z.coerce.number().int().min(1000).default(DEFAULTS.keyRotationMs),
  HEADY_KEY_OVERLAP_MS: z.coerce.number().int().min(0).default(DEFAULTS.keyOverlapMs),
  HEADY_SIGN_BATCH_MAX: z.coerce.number().int().min(1).max(4096).default(256),
  HEADY_SIGN_BATCH_MS: z.coerce.number().min(0).max(1000).default(2),
  HEADY_SIGNATURE_MAX_SKEW_MS: z.coerce.number().int().min(1000).default(120_000),
  /** How long an ended epoch's KEM secret is kept (default: the streams' max age). */
  HEADY_KEM_RETENTION_MS: z.coerce.number().int().min(0).optional(),
});

export const gatewayEnv = commonEnv.extend({
  HEADY_GATEWAY_PORT: port.default(DEFAULTS.gatewayPort),
  HEADY_GATEWAY_HOST: z.string().default('127.0.0.1'),
  HEADY_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** Requests per window per organization; 0 = unlimited. */
  HEADY_PLAN_FREE_LIMIT: z.coerce.number().int().min(0).default(30),
  HEADY_PLAN_PRO_LIMIT: z.coerce.number().int().min(0).default(120),
  HEADY_PLAN_ENTERPRISE_LIMIT: z.coerce.number().int().min(0).default(0),
  /** Requests per window per client IP without an API key. */
  HEADY_ANON_LIMIT: z.coerce.number().int().min(0).default(30),
  HEADY_RATE_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** Comma-separated CIDRs whose X-Forwarded-For is believed. */
  HEADY_TRUSTED_PROXIES: z.string().default(''),
  /** Comma-separated CIDRs of the internal mesh: never rate limited. */
  HEADY_MESH_CIDRS: z.string().default('10.0.0.0/8'),
  /** Prefix of every gateway key in Redis (tests use a unique one). */
  HEADY_REDIS_PREFIX: z.string().default('heady:'),
  /** Longest wait for Redis before the per-process fallback limiter answers. */
  HEADY_REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(100),
  /** Auto-ban: this many 429s within HEADY_BAN_WINDOW_MS bans the IP or organization; 0 = never ban. */
  HEADY_BAN_THRESHOLD: z.coerce.number().int().min(0).default(20),
  HEADY_BAN_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
  /** How long a ban lasts. */
  HEADY_BAN_TTL_MS: z.coerce.number().int().min(1000).default(900_000),
  /** How long an organization's plan stays cached in Redis (a billing.tier.changed event replaces it at once). */
  HEADY_TIER_CACHE_TTL_MS: z.coerce.number().int().min(1000).default(60_000),
  /**
   * How long an API key lookup is kept in process (0 = never): PostgreSQL tells every
   * gateway at once when a key is revoked or its organization changes (LISTEN/NOTIFY), and
   * nothing is cached while that channel is down.
   */
  HEADY_API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(60_000),
  /** How long a completed Idempotency-Key response is kept for replay. */
  HEADY_IDEMPOTENCY_TTL_MS: z.coerce.number().int().min(1000).default(86_400_000),
  /** How long an in-flight Idempotency-Key claim holds (a crashed gateway's claim expires after it). */
  HEADY_IDEMPOTENCY_LOCK_MS: z.coerce.number().int().min(1000).default(60_000),
});

export const conductorEnv = commonEnv.extend({
  HEADY_CONDUCTOR_AUDIT_FILE: z.string().optional(),
  HEADY_AUDIT_WRITER: bool.default(true),
});

export const pipelineEnv = commonEnv.extend({
  /** Comma-separated stage names this process consumes; `all` (default) runs the nine. */
  HEADY_PIPELINE_STAGES: z.string().default('all'),
  /** How long a stage may hold a message before JetStream redelivers it (the recovery time after a crash). */
  HEADY_STAGE_ACK_WAIT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  /** Overrides every stage's declared `retry.maxAttempts` when set. */
  HEADY_STAGE_MAX_DELIVER: z.coerce.number().int().min(1).max(100).optional(),
  HEADY_MAX_CONCURRENT_TASKS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(DEFAULTS.maxConcurrentTasks),
});

export const vectorMemoryEnv = commonEnv.extend({
  /** The embedding dimension of this deployment; a database made with another is refused. */
  HEADY_MEMORY_DIMENSIONS: z.coerce
    .number()
    .int()
    .min(3)
    .max(8192)
    .default(DEFAULTS.memoryDimensions),
  /** The DuckDB file (one per instance); default `<data dir>/vector-memory/<instance>.duckdb`. */
  HEADY_MEMORY_DB: z.string().min(1).optional(),
  /** `local` (lexical feature hashing, no model) or `openai-compatible` (`/v1/embeddings`). */
  HEADY_EMBEDDINGS_PROVIDER: z.enum(['local', 'openai-compatible']).default('local'),
  HEADY_EMBEDDINGS_URL: z.string().url().optional(),
  HEADY_EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  HEADY_EMBEDDINGS_MODEL: z.string().min(1).optional(),
  /** HNSW graph degree, candidate list when building, candidate list when searching. */
  HEADY_HNSW_M: z.coerce.number().int().min(4).max(128).default(32),
  HEADY_HNSW_EF_CONSTRUCTION: z.coerce.number().int().min(8).max(2048).default(256),
  HEADY_HNSW_EF_SEARCH: z.coerce.number().int().min(8).max(4096).default(512),
});

export const cliEnv = commonEnv.extend({
  /** Prefix of the gateway's Redis keys (bans live under it). */
  HEADY_REDIS_PREFIX: z.string().default('heady:'),
});
