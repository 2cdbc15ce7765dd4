import { z } from 'zod';

/**
 * Largest input a run may carry, in bytes of its JSON: ingest fails a run over it, and the
 * gateway refuses one over it (413) before the run is created.
 */
export const MAX_RUN_INPUT_BYTES = 256 * 1024;

/** Infrastructure defaults (ARCHITECTURE §6). These literals live here and nowhere else. */
export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/heady',
  redisUrl: 'redis://127.0.0.1:6379',
  gatewayPort: 8080,
  gatewayOpsPort: 9100,
  conductorOpsPort: 9101,
  pipelineOpsPort: 9102,
  vectorMemoryOpsPort: 9103,
  workersOpsPort: 9104,
  knowledgeVaultOpsPort: 9107,
  billingOpsPort: 9105,
  deviceSyncOpsPort: 9106,
  memoryDimensions: 384,
  maxConcurrentTasks: 6,
  streamMaxAgeDays: 7,
  duplicateWindowSeconds: 120,
  rpcTimeoutMs: 5000,
  consumerConcurrency: 32,
  rpcConcurrency: 64,
  keyRotationMs: 86_400_000,
  keyOverlapMs: 3_600_000,
  databasePoolMax: 20,
  databaseStatementTimeoutMs: 30_000,
  httpRequestTimeoutMs: 30_000,
  httpConnectionTimeoutMs: 120_000,
  dataDir: '.heady',
} as const;

const port = z.coerce.number().int().min(0).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Environment shared by every process. */
export const commonEnv = z.object({
  /**
   * Production unless said otherwise: fault injection and unsigned buses are refused unless
   * this is explicitly `development` or `test` (`npm start` and the test stack set it).
   */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('production').meta({
    description:
      '`development`, `test` or `production`; `HEADY_FAULTS=1` and `HEADY_SIGNING=off` need `development` or `test` (`npm start` sets `development`)',
  }),
  NATS_URL: z
    .string()
    .min(1)
    .default(DEFAULTS.natsUrl)
    .meta({ description: 'NATS server with JetStream' }),
  /** File holding this process's NATS nkey user seed (`SU…`); unset = connect without credentials. */
  HEADY_NATS_NKEY_FILE: z.string().min(1).optional().meta({
    description:
      "file with this process's NATS nkey user seed (`SU…`); `npm start` and compose set one per service",
    defaultText: 'unset (no credentials)',
  }),
  /** CA certificate (PEM) the NATS server's TLS certificate must chain to; set = TLS required. */
  HEADY_NATS_CA_FILE: z.string().min(1).optional().meta({
    description: "CA (PEM) the NATS server's certificate must chain to; set = TLS required",
    defaultText: 'unset (no TLS)',
  }),
  DATABASE_URL: z
    .string()
    .url()
    .default(DEFAULTS.databaseUrl)
    .meta({ description: 'PostgreSQL; `npx heady db migrate` creates the database' }),
  DATABASE_POOL_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(DEFAULTS.databasePoolMax)
    .meta({ description: 'pool size per process' }),
  /** PostgreSQL statement_timeout of every service connection (0 = none). */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULTS.databaseStatementTimeoutMs)
    .meta({
      description:
        'PostgreSQL `statement_timeout` of every connection (a longer query is cancelled); `0` = none',
    }),
  REDIS_URL: z
    .string()
    .url()
    .default(DEFAULTS.redisUrl)
    .meta({ description: 'Redis (gateway rate limits, bans, tier cache, Idempotency-Keys)' }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .meta({ description: 'pino level' }),
  HEADY_INSTANCE_ID: z.string().min(1).optional().meta({
    description: "this process's name on the bus and in logs",
    defaultText: '`<service>-<host>-<random>`',
  }),
  HEADY_DATA_DIR: z
    .string()
    .min(1)
    .default(DEFAULTS.dataDir)
    .meta({ description: 'local data: logs, audit JSONL, development keys (git-ignored)' }),
  HEADY_STREAM_MAX_AGE_DAYS: z.coerce
    .number()
    .positive()
    .default(DEFAULTS.streamMaxAgeDays)
    .meta({ description: 'how long streams keep messages (replay window)' }),
  /** Replicas of every stream and KV bucket the services create: 3 on a three-server JetStream cluster. */
  HEADY_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1).meta({
    description:
      'replicas of every JetStream stream and KV bucket (`3` on a three-server cluster; a single server allows `1`)',
  }),
  /** JetStream's duplicate window and the consumers' shared de-duplication window (one setting). */
  HEADY_DUPLICATE_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULTS.duplicateWindowSeconds)
    .meta({
      description:
        'JetStream duplicate window for `Nats-Msg-Id`, also how long `heady-dedup` remembers msg ids (one setting)',
    }),
  /** Messages one process handles at once per durable consumer. */
  HEADY_CONSUMER_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(DEFAULTS.consumerConcurrency)
    .meta({ description: 'messages a process handles at once per durable consumer' }),
  HEADY_RPC_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULTS.rpcTimeoutMs)
    .meta({ description: 'request/reply timeout' }),
  /** Bus requests one process answers at once; 16 × as many wait, the rest are refused as overloaded. */
  HEADY_RPC_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(4096)
    .default(DEFAULTS.rpcConcurrency)
    .meta({
      description:
        'requests a process answers at once; 16 × as many wait, the rest get `RESOURCE_EXHAUSTED`',
    }),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .url()
    .optional()
    .meta({ description: 'send traces over OTLP/HTTP (e.g. `http://127.0.0.1:4318`)' }),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(1)
    .meta({ description: 'trace sampling ratio' }),
  HEADY_OPS_PORT: port.optional().meta({
    description:
      "port of `/healthz`, `/readyz`, `/metrics` (the gateway's apart from its public API port)",
    defaultText: 'gateway `9100`, conductor `9101`, pipeline `9102`, vector-memory `9103`',
  }),
  /**
   * Fault injection (`options.faults` on a run) for tests and chaos drills: refused unless
   * NODE_ENV is development or test; crash faults (SIGKILL) act only when NODE_ENV=test.
   */
  HEADY_FAULTS: bool.default(false).meta({
    description:
      'accept `options.faults` (fault injection) on runs; refused unless `NODE_ENV` is `development` or `test`; `crash` faults kill only under `test`',
    usedBy: 'gateway, pipeline',
  }),
  /** Signing of every bus message; `off` is refused unless NODE_ENV is development or test. */
  HEADY_SIGNING: z
    .enum(['on', 'off'])
    .default('on')
    .meta({ description: 'sign and verify every bus message (`off` refused in production)' }),
  HEADY_KEYS_DIR: z.string().min(1).optional().meta({
    description: 'root public key, service identity, epoch KEM secrets',
    defaultText: '`$HEADY_DATA_DIR/keys`',
  }),
  HEADY_KEY_ROTATION_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(DEFAULTS.keyRotationMs)
    .meta({ description: 'epoch key (signing and KEM) rotation period' }),
  HEADY_KEY_OVERLAP_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULTS.keyOverlapMs)
    .meta({ description: 'how long a retired epoch key still verifies' }),
  HEADY_SIGN_BATCH_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(4096)
    .default(256)
    .meta({ description: 'largest Merkle batch, longest wait before signing' }),
  HEADY_SIGN_BATCH_MS: z.coerce
    .number()
    .min(0)
    .max(1000)
    .default(2)
    .meta({ description: 'largest Merkle batch, longest wait before signing' }),
  HEADY_SIGNATURE_MAX_SKEW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(120_000)
    .meta({ description: 'largest gap between issued-at and storage' }),
  /** How long an ended epoch's KEM secret is kept (default: the streams' max age). */
  HEADY_KEM_RETENTION_MS: z.coerce.number().int().min(0).optional().meta({
    description: "when an ended epoch's KEM secret is deleted",
    defaultText: "the streams' max age",
  }),
});

export const gatewayEnv = commonEnv.extend({
  HEADY_GATEWAY_PORT: port
    .default(DEFAULTS.gatewayPort)
    .meta({ description: 'HTTP listener (API and ops endpoints)' }),
  HEADY_GATEWAY_HOST: z
    .string()
    .default('127.0.0.1')
    .meta({ description: 'HTTP listener (API and ops endpoints)' }),
  /** Interface of the gateway's ops port (HEADY_OPS_PORT, default 9100: /readyz, /metrics). */
  HEADY_OPS_HOST: z
    .string()
    .default('127.0.0.1')
    .meta({ description: "interface of the gateway's ops port (`/readyz`, `/metrics`)" }),
  HEADY_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1_048_576)
    .meta({ description: 'largest request body' }),
  /** Longest time a client may take to send a whole request (headers and body); 0 = none. */
  HEADY_HTTP_REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULTS.httpRequestTimeoutMs)
    .meta({
      description:
        'the whole request (headers and body) must arrive within it, else `408` problem+json; `0` = none',
    }),
  /** A connection silent this long is closed (event streams excepted); 0 = never. */
  HEADY_HTTP_CONNECTION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULTS.httpConnectionTimeoutMs)
    .meta({
      description:
        'a connection silent this long is closed (run event streams excepted); `0` = never',
    }),
  /** Requests per window per organization; 0 = unlimited. */
  HEADY_PLAN_FREE_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .default(30)
    .meta({ description: 'requests per window per organization by plan; `0` = unlimited' }),
  HEADY_PLAN_PRO_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .default(120)
    .meta({ description: 'requests per window per organization by plan; `0` = unlimited' }),
  HEADY_PLAN_ENTERPRISE_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .meta({ description: 'requests per window per organization by plan; `0` = unlimited' }),
  /** Requests per window per client IP without an API key. */
  HEADY_ANON_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .default(30)
    .meta({ description: 'requests per window per client IP without an API key' }),
  HEADY_RATE_WINDOW_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(60_000)
    .meta({ description: 'sliding-window length' }),
  /** Comma-separated CIDRs whose X-Forwarded-For is believed. */
  HEADY_TRUSTED_PROXIES: z
    .string()
    .default('')
    .meta({ description: 'comma-separated CIDRs whose `X-Forwarded-For` is believed' }),
  /** Comma-separated CIDRs of the internal mesh: never rate limited. */
  HEADY_MESH_CIDRS: z.string().default('10.0.0.0/8').meta({
    description: 'comma-separated CIDRs of the internal mesh, never rate limited or banned',
  }),
  /** Prefix of every gateway key in Redis (tests use a unique one). */
  HEADY_REDIS_PREFIX: z.string().default('heady:').meta({
    description: "prefix of the gateway's Redis keys (`npx heady bans` reads the bans under it)",
  }),
  /** Longest wait for Redis before the per-process fallback limiter answers. */
  HEADY_REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(100).meta({
    description:
      'longest wait for Redis before the per-process fallback limiter answers (also bounds ban, tier-cache and Idempotency-Key calls)',
  }),
  /** Auto-ban: this many 429s within HEADY_BAN_WINDOW_MS bans the IP or organization; 0 = never ban. */
  HEADY_BAN_THRESHOLD: z.coerce.number().int().min(0).default(20).meta({
    description:
      '429s within `HEADY_BAN_WINDOW_MS` that ban the IP or organization; `0` = never ban',
  }),
  HEADY_BAN_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(60_000)
    .meta({ description: 'window the 429s are counted in; how long a ban lasts' }),
  /** How long a ban lasts. */
  HEADY_BAN_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(900_000)
    .meta({ description: 'window the 429s are counted in; how long a ban lasts' }),
  /** How long an organization's plan stays cached in Redis (a billing.tier.changed event replaces it at once). */
  HEADY_TIER_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(60_000)
    .meta({ description: "how long an organization's plan stays in the Redis tier cache" }),
  /**
   * How long an API key lookup is kept in process (0 = never): PostgreSQL tells every
   * gateway at once when a key is revoked or its organization changes (LISTEN/NOTIFY), and
   * nothing is cached while that channel is down.
   */
  HEADY_API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(60_000).meta({
    description:
      'how long an API key lookup is kept in process (evicted at once on revocation); `0` = off',
  }),
  /** How long a completed Idempotency-Key response is kept for replay. */
  HEADY_IDEMPOTENCY_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(86_400_000)
    .meta({ description: 'how long a response is kept for replay under its `Idempotency-Key`' }),
  /** How long an in-flight Idempotency-Key claim holds (a crashed gateway's claim expires after it). */
  HEADY_IDEMPOTENCY_LOCK_MS: z.coerce.number().int().min(1000).default(60_000).meta({
    description: 'how long an in-flight `Idempotency-Key` claim holds if its gateway dies',
  }),
  /**
   * A run's event stream (SSE) with no run event for this long is closed; keep-alive
   * comments do not count. The client resumes with Last-Event-ID.
   */
  HEADY_SSE_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000).meta({
    description:
      'a run event stream with no run event for this long is closed (keep-alive comments do not count)',
  }),
  /** How often an open event stream gets a `: keep-alive` comment (so proxies keep it open). */
  HEADY_SSE_KEEPALIVE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(15_000)
    .meta({ description: 'how often an open run event stream gets a `: keep-alive` comment' }),
  /** Event streams one API key may hold open at once, across gateway replicas; past it 429. */
  HEADY_SSE_MAX_PER_KEY: z.coerce.number().int().min(1).default(20).meta({
    description:
      'open run event streams per API key across gateways; past it `429 TOO_MANY_STREAMS`',
  }),
});

export const conductorEnv = commonEnv.extend({
  HEADY_CONDUCTOR_AUDIT_FILE: z.string().optional().meta({
    description: 'routing-decision JSONL sink',
    defaultText: '`$HEADY_DATA_DIR/audit/conductor-audit.jsonl`',
  }),
  HEADY_AUDIT_WRITER: bool
    .default(true)
    .meta({ description: 'run the `audit-writer` consumer in this process' }),
  /** Rows per audit_logs insert of the audit writer (each event acked after its batch commits). */
  HEADY_AUDIT_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(256).meta({
    description:
      'rows per `audit_logs` insert of the audit writer, acked after commit (`1`: one per event)',
  }),
});

export const pipelineEnv = commonEnv.extend({
  /** Comma-separated stage names this process consumes; `all` (default) runs the nine. */
  HEADY_PIPELINE_STAGES: z
    .string()
    .default('all')
    .meta({ description: 'stages this process consumes, e.g. `plan,execute`' }),
  /** How long a stage may hold a message before JetStream redelivers it (the recovery time after a crash). */
  HEADY_STAGE_ACK_WAIT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .default(30_000)
    .meta({ description: 'how long a stage may hold a message before redelivery' }),
  /** Overrides every stage's declared `retry.maxAttempts` when set. */
  HEADY_STAGE_MAX_DELIVER: z.coerce.number().int().min(1).max(100).optional().meta({
    description: "overrides every stage's attempts before it is compensated",
    defaultText: "each stage's `retry.maxAttempts` (5)",
  }),
  HEADY_MAX_CONCURRENT_TASKS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(DEFAULTS.maxConcurrentTasks)
    .meta({ description: 'task parallelism budget of execute' }),
  /** How long execute waits for its run's tasks before it fails for good and the run is compensated. */
  HEADY_EXECUTE_TIMEOUT_MS: z.coerce.number().int().min(500).max(3_600_000).default(120_000).meta({
    description: "how long execute waits for its run's tasks before the run is compensated",
  }),
  /** Passages ingest retrieves from the caller's vector memory for a chat run (0: none). */
  HEADY_CONTEXT_TOP_K: z.coerce.number().int().min(0).max(20).default(4).meta({
    description:
      "passages ingest retrieves from the caller's memory for a chat run (0 turns retrieval off)",
  }),
  /** Least cosine similarity a retrieved passage needs to be handed to the model. */
  HEADY_CONTEXT_MIN_SCORE: z.coerce.number().min(-1).max(1).default(0.15).meta({
    description: 'least cosine similarity a retrieved memory passage needs to reach the model',
  }),
  /** How long ingest waits for retrieval before the run goes on without that context. */
  HEADY_CONTEXT_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2_000).meta({
    description: 'how long ingest waits for context retrieval before the run goes on without it',
  }),
});

export const vectorMemoryEnv = commonEnv.extend({
  /** The embedding dimension of this deployment; a database made with another is refused. */
  HEADY_MEMORY_DIMENSIONS: z.coerce
    .number()
    .int()
    .min(3)
    .max(8192)
    .default(DEFAULTS.memoryDimensions)
    .meta({
      description:
        'embedding dimension of this deployment; a database made with another is refused',
    }),
  /** The DuckDB file (one per instance); default `<data dir>/vector-memory/memory.duckdb`. */
  HEADY_MEMORY_DB: z.string().min(1).optional().meta({
    description: "the instance's DuckDB file (its HNSW graphs live beside it in `<file>.hnsw/`)",
    defaultText: '`$HEADY_DATA_DIR/vector-memory/memory.duckdb`',
  }),
  /** `local` (lexical feature hashing, no model) or `openai-compatible` (`/v1/embeddings`). */
  HEADY_EMBEDDINGS_PROVIDER: z
    .enum(['local', 'openai-compatible'])
    .default('local')
    .meta({ description: '`local` (lexical feature hashing, no model) or `openai-compatible`' }),
  HEADY_EMBEDDINGS_URL: z.string().url().optional().meta({
    description:
      'base URL (`/v1/embeddings` is appended), model and key of an OpenAI-compatible server',
  }),
  HEADY_EMBEDDINGS_API_KEY: z.string().min(1).optional().meta({
    description:
      'base URL (`/v1/embeddings` is appended), model and key of an OpenAI-compatible server',
  }),
  HEADY_EMBEDDINGS_MODEL: z.string().min(1).optional().meta({
    description:
      'base URL (`/v1/embeddings` is appended), model and key of an OpenAI-compatible server',
  }),
  /** HNSW graph degree, candidate list when building, candidate list when searching. */
  HEADY_HNSW_M: z.coerce
    .number()
    .int()
    .min(4)
    .max(128)
    .default(32)
    .meta({ description: 'HNSW graph degree and candidate lists (build, search)' }),
  HEADY_HNSW_EF_CONSTRUCTION: z.coerce
    .number()
    .int()
    .min(8)
    .max(2048)
    .default(256)
    .meta({ description: 'HNSW graph degree and candidate lists (build, search)' }),
  HEADY_HNSW_EF_SEARCH: z.coerce
    .number()
    .int()
    .min(8)
    .max(4096)
    .default(512)
    .meta({ description: 'HNSW graph degree and candidate lists (build, search)' }),
});

/** One model provider a workers process may call, as `HEADY_PROVIDERS` lists it. */
export const providerSpec = z.object({
  /** How it is named in results, metrics and breaker states. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  kind: z.enum(['local', 'openai-compatible', 'anthropic']),
  /** Base URL of the provider's API (not for `local`). */
  baseUrl: z.string().url().optional(),
  model: z.string().min(1).optional(),
  /** Name of the environment variable holding its API key (the key itself is never configured here). */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
  /** Calls in flight to it at once, per process. */
  concurrency: z.number().int().min(1).max(1024).default(8),
  /** Requests per minute all workers processes together may send it (its API key's limit). */
  rpm: z.number().int().min(1).max(1_000_000).optional(),
  /** The service groups it serves, in order of preference with the others; omitted: every group. */
  groups: z.array(z.string().min(1)).optional(),
});
export type ProviderSpec = z.infer<typeof providerSpec>;

const providerList = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.array(providerSpec).min(1));

export const workersEnv = commonEnv.extend({
  /**
   * The model providers, in order (the first that serves a group is its primary, the next
   * ones its fallbacks), as a JSON list of `{name, kind, baseUrl?, model?, apiKeyEnv?,
   * concurrency?, rpm?, groups?}`.
   */
  HEADY_PROVIDERS: providerList.default([{ name: 'local', kind: 'local', concurrency: 8 }]).meta({
    description:
      'JSON list of model providers in order of preference: `{name, kind: local | openai-compatible | anthropic, baseUrl, model, apiKeyEnv, concurrency, rpm, groups}`; API keys are read from the variable `apiKeyEnv` names',
    defaultText: '`[{"name":"local","kind":"local"}]` (extractive, not a language model)',
  }),
  /** How long a task may hold its delivery before JetStream redelivers it (a crashed worker's tasks come back after it). */
  HEADY_WORK_ACK_WAIT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .default(30_000)
    .meta({ description: 'how long a task may hold its delivery before redelivery' }),
  /** Prefix of the Redis keys the workers share breaker state under (the gateway's, to read it). */
  HEADY_REDIS_PREFIX: z.string().default('heady:').meta({
    description: "prefix of the Redis keys holding the providers' breaker state (the gateway's)",
  }),
  /** A task's time limit when its budget sets none, all provider attempts included. */
  HEADY_TASK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .meta({ description: "a task's time limit when its budget sets none" }),
});

export const knowledgeVaultEnv = commonEnv.extend({
  /** Dimension of the vault's passage embeddings (the local embedder's, or the provider's). */
  HEADY_VAULT_DIMENSIONS: z.coerce
    .number()
    .int()
    .min(3)
    .max(8192)
    .default(DEFAULTS.memoryDimensions)
    .meta({ description: "dimension of the vault's passage embeddings" }),
  HEADY_EMBEDDINGS_PROVIDER: vectorMemoryEnv.shape.HEADY_EMBEDDINGS_PROVIDER,
  HEADY_EMBEDDINGS_URL: vectorMemoryEnv.shape.HEADY_EMBEDDINGS_URL,
  HEADY_EMBEDDINGS_API_KEY: vectorMemoryEnv.shape.HEADY_EMBEDDINGS_API_KEY,
  HEADY_EMBEDDINGS_MODEL: vectorMemoryEnv.shape.HEADY_EMBEDDINGS_MODEL,
  /** Longest passage, in characters; sentences are packed up to it. */
  HEADY_VAULT_CHUNK_CHARS: z.coerce
    .number()
    .int()
    .min(100)
    .max(20_000)
    .default(1000)
    .meta({ description: 'longest passage in characters (sentences are packed up to it)' }),
  /** Characters of trailing sentences repeated at the start of the next passage of a section. */
  HEADY_VAULT_CHUNK_OVERLAP_CHARS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(200)
    .meta({ description: 'characters of trailing sentences repeated in the next passage' }),
  /** Largest document (UTF-8 bytes of its content); a larger one is refused with a DROP receipt. */
  HEADY_VAULT_MAX_DOCUMENT_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .default(256 * 1024)
    .meta({ description: 'largest document content; a larger one gets a DROP receipt (413)' }),
  HEADY_VAULT_BM25_K1: z.coerce
    .number()
    .min(0)
    .max(10)
    .default(1.2)
    .meta({ description: 'BM25 term-frequency saturation `k1` and length normalisation `b`' }),
  HEADY_VAULT_BM25_B: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.75)
    .meta({ description: 'BM25 term-frequency saturation `k1` and length normalisation `b`' }),
  /** How hybrid search fuses its lexical and vector lists. */
  HEADY_VAULT_FUSION: z.enum(['relative', 'rrf']).default('relative').meta({
    description:
      "hybrid fusion: `relative` (each list's scores divided by its best, weighted by `HEADY_VAULT_FUSION_ALPHA`) or `rrf` (reciprocal rank fusion, `HEADY_VAULT_RRF_K`)",
  }),
  /** Weight of the lexical list in relative-score fusion (the vector list gets 1 − alpha). */
  HEADY_VAULT_FUSION_ALPHA: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.7)
    .meta({ description: 'weight of BM25 in relative-score fusion (vectors get 1 − alpha)' }),
  /** Reciprocal rank fusion constant: score = Σ 1 / (k + rank). */
  HEADY_VAULT_RRF_K: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(60)
    .meta({ description: 'reciprocal rank fusion constant `k` of hybrid search' }),
  HEADY_HNSW_M: vectorMemoryEnv.shape.HEADY_HNSW_M,
  HEADY_HNSW_EF_CONSTRUCTION: vectorMemoryEnv.shape.HEADY_HNSW_EF_CONSTRUCTION,
  HEADY_HNSW_EF_SEARCH: vectorMemoryEnv.shape.HEADY_HNSW_EF_SEARCH,
});

export const billingEnv = commonEnv.extend({
  /** Stripe's secret key (`sk_test_…` for test mode); `npm start` sets a fake one for its fake Stripe. */
  STRIPE_SECRET_KEY: z.string().min(1).meta({
    description:
      "Stripe's secret API key (`sk_test_…` talks to test mode); `npm start` runs a local fake Stripe when it is unset",
    defaultText: "required (`npm start`: its fake Stripe's)",
  }),
  /** Where the Stripe SDK sends its requests instead of api.stripe.com (the local fake). */
  HEADY_STRIPE_API_URL: z.string().url().optional().meta({
    description:
      'send Stripe API calls here instead of Stripe (the local fake Stripe of `npm start` and the tests)',
    defaultText: "unset (Stripe's API)",
  }),
  /** The webhook signing secret (`whsec_…`); else `stripe.webhookSecret` of `<data dir>/credentials.json`. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional().meta({
    description:
      'webhook signing secret (`whsec_…`) the `Stripe-Signature` of every webhook is verified with',
    defaultText: '`stripe.webhookSecret` in `credentials.json`',
  }),
  HEADY_STRIPE_WEBHOOK_TOLERANCE_S: z.coerce.number().int().min(1).max(86_400).default(300).meta({
    description: "oldest webhook signature timestamp accepted, in seconds (Stripe's default 300)",
  }),
  HEADY_STRIPE_PRICE_PRO: z
    .string()
    .min(1)
    .default('price_heady_pro')
    .meta({ description: 'Stripe price id of each paid plan (a recurring price)' }),
  HEADY_STRIPE_PRICE_ENTERPRISE: z
    .string()
    .min(1)
    .default('price_heady_enterprise')
    .meta({ description: 'Stripe price id of each paid plan (a recurring price)' }),
  /** How long after the first failed invoice a subscription keeps its plan before it drops to Free. */
  HEADY_BILLING_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 86_400_000)
    .meta({
      description: 'how long after an unpaid invoice the plan is kept before it drops to Free',
    }),
  HEADY_BILLING_SWEEP_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .meta({ description: 'how often billing looks for subscriptions past their grace period' }),
  HEADY_STRIPE_METER_EVENT: z.string().min(1).default('heady_tokens').meta({
    description: "the Stripe billing meter's event name usage is reported under (tokens per run)",
  }),
  /** Plans whose usage is reported to Stripe; empty: none. */
  HEADY_STRIPE_METERED_PLANS: z
    .string()
    .default('')
    .meta({ description: 'comma-separated plans whose usage is reported to Stripe; empty: none' }),
  /** What a run is expected to cost, reserved against its organization's budget at admission. */
  HEADY_BUDGET_RUN_ESTIMATE_USD: z.coerce.number().min(0).max(1000).default(0.01).meta({
    description: "a run's estimated cost, reserved against its organization's monthly budget",
  }),
});

export const deviceSyncEnv = commonEnv.extend({
  /** Tracking properties that are kept (every other property of an event is dropped). */
  HEADY_TRACKING_PROPERTIES: z
    .string()
    .default('screen,action,appVersion,locale')
    .transform((v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .meta({
      description:
        'comma-separated allow-list of tracking properties kept; every other property is dropped before storage',
    }),
  /** How far a device-signed request's timestamp may be from the server's clock. */
  HEADY_DEVICE_PROOF_SKEW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .default(120_000)
    .meta({
      description:
        "how far a device-signed request's timestamp may be from the server's clock (nonces are remembered twice as long)",
    }),
  /**
   * Whether device signatures (request proofs and blob signatures) are verified; `false`
   * only for benchmarks, refused unless NODE_ENV is development or test.
   */
  HEADY_DEVICE_VERIFY_SIGNATURES: bool.default(true).meta({
    description:
      'verify device signatures on requests and blobs; `false` (benchmarks only) needs `NODE_ENV` development or test',
  }),
});

export const cliEnv = commonEnv.extend({
  /** Where `heady device` and `heady vault` reach the gateway. */
  HEADY_GATEWAY_URL: z
    .string()
    .url()
    .default(`http://127.0.0.1:${DEFAULTS.gatewayPort}`)
    .meta({ description: 'the gateway `npx heady device` and `npx heady vault` talk to' }),
  /** The API key `heady device` and `heady vault` send (for `device`: a user-bound key, or an organization key with `--act-as-user`). */
  HEADY_API_KEY: z.string().min(1).optional().meta({
    description: 'the API key `npx heady device` and `npx heady vault` send (or `--key`)',
    defaultText: 'unset (`--key` then required)',
  }),
  /** Prefix of the gateway's Redis keys (bans live under it). */
  HEADY_REDIS_PREFIX: z.string().default('heady:').meta({
    description: "prefix of the gateway's Redis keys (`npx heady bans` reads the bans under it)",
  }),
});

/**
 * Every environment schema, by the process that reads it. `docs/configuration.md` is
 * generated from these (`npm run docs:config`): a variable's `description` (and, where the
 * default is computed at boot, its `defaultText`) is its documentation.
 */
export const ENV_SCHEMAS = {
  common: commonEnv,
  gateway: gatewayEnv,
  conductor: conductorEnv,
  pipeline: pipelineEnv,
  'vector-memory': vectorMemoryEnv,
  workers: workersEnv,
  'knowledge-vault': knowledgeVaultEnv,
  billing: billingEnv,
  'device-sync': deviceSyncEnv,
  cli: cliEnv,
} as const;
