import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { STAGE_NAMES, type StageName } from '@heady/contracts';
import { type z } from 'zod';
import {
  DEFAULTS,
  billingEnv,
  cliEnv,
  type commonEnv,
  deviceSyncEnv,
  conductorEnv,
  gatewayEnv,
  pipelineEnv,
  type ProviderSpec,
  vectorMemoryEnv,
  workersEnv,
  knowledgeVaultEnv,
} from './schema.js';

/** Thrown at boot when the environment does not validate; lists every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
  }
}

type Env = Record<string, string | undefined>;

function parse<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  // Empty strings mean "unset", as in most shells' `VAR= cmd`.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n  ${issues.join('\n  ')}`, issues);
  }
  return result.data;
}

/** Settings every process has, in a nested, typed shape. */
export interface CommonConfig {
  service: string;
  /** HEADY_FAULTS: whether runs may carry `options.faults` (fault injection). */
  faults: boolean;
  /**
   * Whether an injected crash fault may SIGKILL this process: only with NODE_ENV=test, so
   * no client request can kill a development or production process.
   */
  faultsMayKill: boolean;
  instanceId: string;
  env: 'development' | 'test' | 'production';
  logLevel: string;
  dataDir: string;
  nats: {
    url: string;
    /** Absolute path of the nkey seed file this process authenticates with (HEADY_NATS_NKEY_FILE). */
    nkeySeedFile?: string | undefined;
    /** Absolute path of the CA the server's certificate must chain to (HEADY_NATS_CA_FILE); TLS when set. */
    caFile?: string | undefined;
    rpcTimeoutMs: number;
    streamMaxAgeDays: number;
    /** Replicas of the streams and KV buckets (HEADY_STREAM_REPLICAS); 1 when unset. */
    streamReplicas?: number;
    /**
     * JetStream's duplicate window of every stream, and how long consumers and responders
     * remember a msg id in the shared `heady-dedup` bucket: one setting, so they agree.
     */
    duplicateWindowSeconds: number;
    consumerConcurrency: number;
    /** Requests one process answers at once (16 × as many wait; the rest get RESOURCE_EXHAUSTED). */
    rpcConcurrency?: number;
  };
  database: { url: string; poolMax: number; statementTimeoutMs: number };
  redis: { url: string };
  telemetry: { otlpEndpoint: string | undefined; sampleRatio: number };
  ops: { port: number | undefined };
  signing: {
    enabled: boolean;
    keysDir: string;
    rotationMs: number;
    overlapMs: number;
    batchMax: number;
    batchDelayMs: number;
    maxSkewMs: number;
    /** How long an ended epoch's KEM secret is kept before it is deleted. */
    kemRetentionMs: number;
  };
}

function common(service: string, e: z.infer<typeof commonEnv>): CommonConfig {
  // NODE_ENV defaults to production: these two need it set to development or test on purpose
  const explicitlyNotProduction = e.NODE_ENV === 'development' || e.NODE_ENV === 'test';
  if (e.HEADY_FAULTS && !explicitlyNotProduction) {
    throw new ConfigError(
      'invalid environment:\n  HEADY_FAULTS: fault injection is refused in production (set NODE_ENV=development or test to use it)',
      ['HEADY_FAULTS'],
    );
  }
  if (e.HEADY_SIGNING === 'off' && !explicitlyNotProduction) {
    throw new ConfigError(
      'invalid environment:\n  HEADY_SIGNING: signing cannot be turned off in production (set NODE_ENV=development or test to turn it off)',
      ['HEADY_SIGNING'],
    );
  }
  const dataDir = resolve(e.HEADY_DATA_DIR);
  return {
    service,
    instanceId: e.HEADY_INSTANCE_ID ?? `${service}-${hostname()}-${randomUUID().slice(0, 8)}`,
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir,
    nats: {
      url: e.NATS_URL,
      nkeySeedFile:
        e.HEADY_NATS_NKEY_FILE === undefined ? undefined : resolve(e.HEADY_NATS_NKEY_FILE),
      caFile: e.HEADY_NATS_CA_FILE === undefined ? undefined : resolve(e.HEADY_NATS_CA_FILE),
      rpcTimeoutMs: e.HEADY_RPC_TIMEOUT_MS,
      streamMaxAgeDays: e.HEADY_STREAM_MAX_AGE_DAYS,
      streamReplicas: e.HEADY_STREAM_REPLICAS,
      duplicateWindowSeconds: e.HEADY_DUPLICATE_WINDOW_SECONDS,
      consumerConcurrency: e.HEADY_CONSUMER_CONCURRENCY,
      rpcConcurrency: e.HEADY_RPC_CONCURRENCY,
    },
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    redis: { url: e.REDIS_URL },
    telemetry: {
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      sampleRatio: e.OTEL_TRACES_SAMPLER_ARG,
    },
    ops: { port: e.HEADY_OPS_PORT },
    faults: e.HEADY_FAULTS,
    faultsMayKill: e.HEADY_FAULTS && e.NODE_ENV === 'test',
    signing: {
      enabled: e.HEADY_SIGNING === 'on',
      keysDir: resolve(e.HEADY_KEYS_DIR ?? `${dataDir}/keys`),
      rotationMs: e.HEADY_KEY_ROTATION_MS,
      overlapMs: e.HEADY_KEY_OVERLAP_MS,
      batchMax: e.HEADY_SIGN_BATCH_MAX,
      batchDelayMs: e.HEADY_SIGN_BATCH_MS,
      maxSkewMs: e.HEADY_SIGNATURE_MAX_SKEW_MS,
      kemRetentionMs: e.HEADY_KEM_RETENTION_MS ?? e.HEADY_STREAM_MAX_AGE_DAYS * 86_400_000,
    },
  };
}

export interface GatewayConfig extends CommonConfig {
  /** The ops port (/healthz, /readyz, /metrics), apart from the public API port. */
  ops: { port: number; host: string };
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    /** Fastify `requestTimeout`: the whole request must arrive within it (0 = none). */
    requestTimeoutMs: number;
    /** Fastify `connectionTimeout`: a silent socket is closed after it (0 = never). */
    connectionTimeoutMs: number;
  };
  rateLimit: {
    /** Requests per window per plan; 0 = unlimited. */
    plans: { FREE: number; PRO: number; ENTERPRISE: number };
    anonymous: number;
    windowMs: number;
    trustedProxies: string[];
    meshCidrs: string[];
    redisPrefix: string;
    redisTimeoutMs: number;
  };
  /** Auto-ban of callers that keep sending after their 429s. */
  bans: { threshold: number; windowMs: number; ttlMs: number };
  /** Redis cache of each organization's plan. */
  tiers: { cacheTtlMs: number };
  /** Idempotency-Key on creating POSTs. */
  idempotency: { ttlMs: number; lockMs: number };
  /** In-process cache of API key lookups (0 = off). */
  apiKeys: { cacheMs: number };
  /** Server-sent run event streams: idle close, keep-alive comments, open streams per API key. */
  eventStreams: { idleTimeoutMs: number; keepAliveMs: number; maxPerKey: number };
}
export interface ConductorConfig extends CommonConfig {
  ops: { port: number };
  audit: {
    jsonlFile: string;
    writer: boolean;
    /** Rows one audit_logs insert of the audit writer carries at most (1: one insert per event). */
    batchMax: number;
  };
}
export interface PipelineConfig extends CommonConfig {
  ops: { port: number };
  stages: StageName[];
  stageConsumer: { ackWaitMs: number; maxDeliver?: number };
  maxConcurrentTasks: number;
  /** How long execute waits for its tasks (HEADY_EXECUTE_TIMEOUT_MS). */
  executeTimeoutMs: number;
  /** What ingest retrieves for a chat run (HEADY_CONTEXT_*). */
  context: { topK: number; minScore: number; timeoutMs: number };
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const e = parse(gatewayEnv, env);
  const c = common('gateway', e);
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.gatewayOpsPort, host: e.HEADY_OPS_HOST },
    http: {
      host: e.HEADY_GATEWAY_HOST,
      port: e.HEADY_GATEWAY_PORT,
      bodyLimitBytes: e.HEADY_BODY_LIMIT_BYTES,
      requestTimeoutMs: e.HEADY_HTTP_REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: e.HEADY_HTTP_CONNECTION_TIMEOUT_MS,
    },
    rateLimit: {
      plans: {
        FREE: e.HEADY_PLAN_FREE_LIMIT,
        PRO: e.HEADY_PLAN_PRO_LIMIT,
        ENTERPRISE: e.HEADY_PLAN_ENTERPRISE_LIMIT,
      },
      anonymous: e.HEADY_ANON_LIMIT,
      windowMs: e.HEADY_RATE_WINDOW_MS,
      trustedProxies: cidrList(e.HEADY_TRUSTED_PROXIES),
      meshCidrs: cidrList(e.HEADY_MESH_CIDRS),
      redisPrefix: e.HEADY_REDIS_PREFIX,
      redisTimeoutMs: e.HEADY_REDIS_TIMEOUT_MS,
    },
    bans: {
      threshold: e.HEADY_BAN_THRESHOLD,
      windowMs: e.HEADY_BAN_WINDOW_MS,
      ttlMs: e.HEADY_BAN_TTL_MS,
    },
    tiers: { cacheTtlMs: e.HEADY_TIER_CACHE_TTL_MS },
    idempotency: { ttlMs: e.HEADY_IDEMPOTENCY_TTL_MS, lockMs: e.HEADY_IDEMPOTENCY_LOCK_MS },
    apiKeys: { cacheMs: e.HEADY_API_KEY_CACHE_MS },
    eventStreams: {
      idleTimeoutMs: e.HEADY_SSE_IDLE_TIMEOUT_MS,
      keepAliveMs: e.HEADY_SSE_KEEPALIVE_MS,
      maxPerKey: e.HEADY_SSE_MAX_PER_KEY,
    },
  };
}

function cidrList(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export function loadConductorConfig(env: Env = process.env): ConductorConfig {
  const e = parse(conductorEnv, env);
  const c = common('conductor', e);
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.conductorOpsPort },
    audit: {
      jsonlFile: resolve(
        e.HEADY_CONDUCTOR_AUDIT_FILE ?? `${c.dataDir}/audit/conductor-audit.jsonl`,
      ),
      writer: e.HEADY_AUDIT_WRITER,
      batchMax: e.HEADY_AUDIT_BATCH_MAX,
    },
  };
}

/** Parses `HEADY_PIPELINE_STAGES`: `all` or a comma-separated list of stage names. */
export function parseStageList(value: string): StageName[] {
  const v = value.trim();
  if (v === 'all') return [...STAGE_NAMES];
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(STAGE_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new ConfigError(
      `HEADY_PIPELINE_STAGES: unknown stage(s) ${unknown.join(', ') || '(none given)'}; valid: all, ${STAGE_NAMES.join(', ')}`,
      ['HEADY_PIPELINE_STAGES'],
    );
  }
  return STAGE_NAMES.filter((s) => names.includes(s));
}

export function loadPipelineConfig(env: Env = process.env): PipelineConfig {
  const e = parse(pipelineEnv, env);
  const c = common('pipeline', e);
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.pipelineOpsPort },
    stages: parseStageList(e.HEADY_PIPELINE_STAGES),
    stageConsumer: {
      ackWaitMs: e.HEADY_STAGE_ACK_WAIT_MS,
      ...(e.HEADY_STAGE_MAX_DELIVER === undefined ? {} : { maxDeliver: e.HEADY_STAGE_MAX_DELIVER }),
    },
    maxConcurrentTasks: e.HEADY_MAX_CONCURRENT_TASKS,
    executeTimeoutMs: e.HEADY_EXECUTE_TIMEOUT_MS,
    context: {
      topK: e.HEADY_CONTEXT_TOP_K,
      minScore: e.HEADY_CONTEXT_MIN_SCORE,
      timeoutMs: e.HEADY_CONTEXT_TIMEOUT_MS,
    },
  };
}

export interface WorkersConfig extends CommonConfig {
  ops: { port: number };
  /** The model providers, in order of preference. */
  providers: ProviderSpec[];
  work: { ackWaitMs: number; taskTimeoutMs: number };
  /** Prefix of the Redis keys of the providers' shared breaker state. */
  redisPrefix: string;
}

export function loadWorkersConfig(env: Env = process.env): WorkersConfig {
  const e = parse(workersEnv, env);
  const c = common('workers', e);
  const missing = e.HEADY_PROVIDERS.filter((p) => p.kind === 'openai-compatible' && !p.baseUrl);
  if (missing.length) {
    throw new ConfigError(
      `invalid environment:\n  HEADY_PROVIDERS: ${missing.map((p) => p.name).join(', ')} (openai-compatible) need a baseUrl`,
      ['HEADY_PROVIDERS'],
    );
  }
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.workersOpsPort },
    providers: e.HEADY_PROVIDERS,
    work: { ackWaitMs: e.HEADY_WORK_ACK_WAIT_MS, taskTimeoutMs: e.HEADY_TASK_TIMEOUT_MS },
    redisPrefix: e.HEADY_REDIS_PREFIX,
  };
}

/** The embedding provider of vector memory and the knowledge vault (HEADY_EMBEDDINGS_*). */
export type EmbeddingsConfig =
  | { provider: 'local' }
  | {
      provider: 'openai-compatible';
      baseUrl: string;
      apiKey: string | undefined;
      model: string;
    };

type EmbeddingsEnv = Pick<
  z.infer<typeof vectorMemoryEnv>,
  | 'HEADY_EMBEDDINGS_PROVIDER'
  | 'HEADY_EMBEDDINGS_URL'
  | 'HEADY_EMBEDDINGS_API_KEY'
  | 'HEADY_EMBEDDINGS_MODEL'
>;

function embeddingsOf(e: EmbeddingsEnv): EmbeddingsConfig {
  return e.HEADY_EMBEDDINGS_PROVIDER === 'local'
    ? { provider: 'local' }
    : {
        provider: 'openai-compatible',
        baseUrl: e.HEADY_EMBEDDINGS_URL ?? '',
        apiKey: e.HEADY_EMBEDDINGS_API_KEY,
        model: e.HEADY_EMBEDDINGS_MODEL ?? '',
      };
}

/** HNSW parameters (HEADY_HNSW_*), the same variables for vector memory and the vault. */
function hnswOf(
  e: Pick<
    z.infer<typeof vectorMemoryEnv>,
    'HEADY_HNSW_M' | 'HEADY_HNSW_EF_CONSTRUCTION' | 'HEADY_HNSW_EF_SEARCH'
  >,
) {
  return {
    connectivity: e.HEADY_HNSW_M,
    expansionAdd: e.HEADY_HNSW_EF_CONSTRUCTION,
    expansionSearch: e.HEADY_HNSW_EF_SEARCH,
  };
}

export interface VectorMemoryConfig extends CommonConfig {
  ops: { port: number };
  memory: {
    dimensions: number;
    dbFile: string;
    indexDir: string;
    hnsw: { connectivity: number; expansionAdd: number; expansionSearch: number };
  };
  embeddings: EmbeddingsConfig;
}

export function loadVectorMemoryConfig(env: Env = process.env): VectorMemoryConfig {
  const e = parse(vectorMemoryEnv, env);
  const c = common('vector-memory', e);
  const dbFile = resolve(e.HEADY_MEMORY_DB ?? `${c.dataDir}/vector-memory/memory.duckdb`);
  if (
    e.HEADY_EMBEDDINGS_PROVIDER === 'openai-compatible' &&
    (!e.HEADY_EMBEDDINGS_URL || !e.HEADY_EMBEDDINGS_MODEL)
  ) {
    throw new ConfigError(
      'invalid environment:\n  HEADY_EMBEDDINGS_PROVIDER=openai-compatible needs HEADY_EMBEDDINGS_URL and HEADY_EMBEDDINGS_MODEL',
      ['HEADY_EMBEDDINGS_URL', 'HEADY_EMBEDDINGS_MODEL'],
    );
  }
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.vectorMemoryOpsPort },
    memory: {
      dimensions: e.HEADY_MEMORY_DIMENSIONS,
      dbFile,
      indexDir: `${dbFile}.hnsw`,
      hnsw: hnswOf(e),
    },
    embeddings: embeddingsOf(e),
  };
}

export interface KnowledgeVaultConfig extends CommonConfig {
  ops: { port: number };
  vault: {
    dimensions: number;
    chunk: { maxChars: number; overlapChars: number };
    maxDocumentBytes: number;
    bm25: { k1: number; b: number };
    /** Hybrid fusion: relative scores weighted by `alpha` (lexical), or RRF with constant `rrfK`. */
    fusion: 'relative' | 'rrf';
    alpha: number;
    rrfK: number;
    hnsw: { connectivity: number; expansionAdd: number; expansionSearch: number };
  };
  embeddings: EmbeddingsConfig;
}

export function loadKnowledgeVaultConfig(env: Env = process.env): KnowledgeVaultConfig {
  const e = parse(knowledgeVaultEnv, env);
  const c = common('knowledge-vault', e);
  if (
    e.HEADY_EMBEDDINGS_PROVIDER === 'openai-compatible' &&
    (!e.HEADY_EMBEDDINGS_URL || !e.HEADY_EMBEDDINGS_MODEL)
  ) {
    throw new ConfigError(
      'invalid environment:\n  HEADY_EMBEDDINGS_PROVIDER=openai-compatible needs HEADY_EMBEDDINGS_URL and HEADY_EMBEDDINGS_MODEL',
      ['HEADY_EMBEDDINGS_URL', 'HEADY_EMBEDDINGS_MODEL'],
    );
  }
  if (e.HEADY_VAULT_CHUNK_OVERLAP_CHARS >= e.HEADY_VAULT_CHUNK_CHARS) {
    throw new ConfigError(
      'invalid environment:\n  HEADY_VAULT_CHUNK_OVERLAP_CHARS must be below HEADY_VAULT_CHUNK_CHARS',
      ['HEADY_VAULT_CHUNK_OVERLAP_CHARS'],
    );
  }
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.knowledgeVaultOpsPort },
    vault: {
      dimensions: e.HEADY_VAULT_DIMENSIONS,
      chunk: {
        maxChars: e.HEADY_VAULT_CHUNK_CHARS,
        overlapChars: e.HEADY_VAULT_CHUNK_OVERLAP_CHARS,
      },
      maxDocumentBytes: e.HEADY_VAULT_MAX_DOCUMENT_BYTES,
      bm25: { k1: e.HEADY_VAULT_BM25_K1, b: e.HEADY_VAULT_BM25_B },
      fusion: e.HEADY_VAULT_FUSION,
      alpha: e.HEADY_VAULT_FUSION_ALPHA,
      rrfK: e.HEADY_VAULT_RRF_K,
      hnsw: hnswOf(e),
    },
    embeddings: embeddingsOf(e),
  };
}

export interface BillingConfig extends CommonConfig {
  ops: { port: number };
  stripe: {
    secretKey: string;
    /** The fake Stripe's base URL, when set (the SDK's host, port and protocol come from it). */
    apiUrl: string | undefined;
    webhookSecret: string;
    webhookToleranceS: number;
    /** The recurring price of each paid plan. */
    prices: { PRO: string; ENTERPRISE: string };
  };
  grace: { ms: number; sweepMs: number };
  budgets: { runEstimateMicros: number };
  /** Meter events: the event name and the plans that meter. */
  meter: { eventName: string; plans: string[] };
}

/** `stripe.webhookSecret` of `<dataDir>/credentials.json` (written by `npm start`), if any. */
function credentialsWebhookSecret(dataDir: string): string | undefined {
  try {
    const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as {
      stripe?: { webhookSecret?: unknown };
    };
    const s = creds.stripe?.webhookSecret;
    return typeof s === 'string' && s ? s : undefined;
  } catch {
    return undefined;
  }
}

export function loadBillingConfig(env: Env = process.env): BillingConfig {
  const e = parse(billingEnv, env);
  const c = common('billing', e);
  const webhookSecret = e.STRIPE_WEBHOOK_SECRET ?? credentialsWebhookSecret(c.dataDir);
  if (!webhookSecret) {
    throw new ConfigError(
      "invalid environment:\n  STRIPE_WEBHOOK_SECRET: required (or `stripe.webhookSecret` in the data directory's credentials.json)",
      ['STRIPE_WEBHOOK_SECRET'],
    );
  }
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.billingOpsPort },
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY,
      apiUrl: e.HEADY_STRIPE_API_URL,
      webhookSecret,
      webhookToleranceS: e.HEADY_STRIPE_WEBHOOK_TOLERANCE_S,
      prices: { PRO: e.HEADY_STRIPE_PRICE_PRO, ENTERPRISE: e.HEADY_STRIPE_PRICE_ENTERPRISE },
    },
    grace: { ms: e.HEADY_BILLING_GRACE_MS, sweepMs: e.HEADY_BILLING_SWEEP_MS },
    budgets: { runEstimateMicros: Math.round(e.HEADY_BUDGET_RUN_ESTIMATE_USD * 1e6) },
    meter: {
      eventName: e.HEADY_STRIPE_METER_EVENT,
      plans: e.HEADY_STRIPE_METERED_PLANS.split(',')
        .map((p) => p.trim().toUpperCase())
        .filter(Boolean),
    },
  };
}

export interface DeviceSyncConfig extends CommonConfig {
  ops: { port: number };
  device: {
    /** Tracking properties kept; the others are dropped before storage. */
    trackingProperties: readonly string[];
    proofSkewMs: number;
    verifySignatures: boolean;
  };
}

export function loadDeviceSyncConfig(env: Env = process.env): DeviceSyncConfig {
  const e = parse(deviceSyncEnv, env);
  const c = common('device-sync', e);
  if (!e.HEADY_DEVICE_VERIFY_SIGNATURES && c.env === 'production')
    throw new ConfigError(
      'invalid environment:\n  HEADY_DEVICE_VERIFY_SIGNATURES: device signatures cannot go unverified in production',
      ['HEADY_DEVICE_VERIFY_SIGNATURES'],
    );
  return {
    ...c,
    ops: { port: c.ops.port ?? DEFAULTS.deviceSyncOpsPort },
    device: {
      trackingProperties: e.HEADY_TRACKING_PROPERTIES,
      proofSkewMs: e.HEADY_DEVICE_PROOF_SKEW_MS,
      verifySignatures: e.HEADY_DEVICE_VERIFY_SIGNATURES,
    },
  };
}

export interface CliConfig extends CommonConfig {
  /** Prefix of the gateway's Redis keys. */
  redisPrefix: string;
  /** The gateway `heady device` and `heady vault` call, with this API key (HEADY_GATEWAY_URL, HEADY_API_KEY). */
  gateway: { url: string; apiKey: string | undefined };
}

export function loadCliConfig(env: Env = process.env): CliConfig {
  const e = parse(cliEnv, env);
  return {
    ...common('cli', e),
    redisPrefix: e.HEADY_REDIS_PREFIX,
    gateway: { url: e.HEADY_GATEWAY_URL, apiKey: e.HEADY_API_KEY },
  };
}
