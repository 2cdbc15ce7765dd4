import type { Classification, Plan, Role, RunStatusName, StageStatus } from '@heady/contracts';
import type {
  ColumnType,
  Generated,
  Insertable,
  JSONColumnType,
  Selectable,
  Updateable,
} from 'kysely';

/** A timestamptz column: read as Date, written as Date or ISO string, defaulted by the database. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
/** BIGINT comes back from pg as a string (it may exceed 2^53). */
type BigIntColumn = ColumnType<string, string | number | bigint, string | number | bigint>;
export type Json = JSONColumnType<
  Record<string, unknown>,
  Record<string, unknown> | undefined,
  Record<string, unknown>
>;

export type { Classification, Plan, Role, StageStatus };
/** A run's state as `pipeline_runs.status` stores it (the vocabulary's `RunStatusName`). */
export type RunStatus = RunStatusName;

export interface ServicesTable {
  id: string;
  name: string;
  base_url: string;
  health_path: Generated<string>;
  status: Generated<string>;
  last_healthy_at: NullableTimestamp;
  metadata: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface NodesTable {
  id: string;
  name: string;
  runtime: Generated<string>;
  triggers: ColumnType<string[], string[] | undefined, string[]>;
  enabled: Generated<boolean>;
  metadata: Json;
  created_at: Timestamp;
}

export interface WorkflowsTable {
  id: string;
  pipeline_id: Generated<string>;
  max_concurrent_tasks: Generated<number>;
  governance: Json;
  created_at: Timestamp;
}

export interface PipelineRunsTable {
  id: string;
  workflow_id: string;
  /** The organization whose API key started the run (null only for runs older than tenancy). */
  org_id: string | null;
  /** The API key that started the run: with `org_id` and `request_route`, the Idempotency-Key's scope. */
  api_key_id: string | null;
  /** The route that started the run (`POST /api/runs`, `POST /api/brain/chat`). */
  request_route: string | null;
  /** The client's Idempotency-Key; unique within (org_id, api_key_id, request_route) when present. */
  request_id: string | null;
  request_hash: string | null;
  seed: BigIntColumn;
  status: RunStatus;
  action: string;
  service_group: string;
  input: Json;
  options: Json;
  session_id: string | null;
  classification: Generated<Classification>;
  trace_id: string | null;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  result: Json;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set by a cancellation request; the working stage (at its next heartbeat) or the next one stops the run and starts its compensation, which ends it CANCELLED. */
  cancel_requested_at: NullableTimestamp;
}

export interface PipelineStageRunsTable {
  id: Generated<string>;
  pipeline_run_id: string;
  stage_num: number;
  stage_name: string;
  /** Self-critique may send a run back to execute; each pass is a new iteration. */
  iteration: Generated<number>;
  status: StageStatus;
  attempts: Generated<number>;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  metrics: Json;
  output: Json;
  error: string | null;
  /** The smallest input the stage's compensation needs (null: nothing to undo). */
  compensation: JSONColumnType<
    Record<string, unknown> | null,
    Record<string, unknown> | null | undefined,
    Record<string, unknown> | null
  >;
  /** How many times the compensation took effect; 1 at most. */
  compensations: Generated<number>;
  compensated_at: NullableTimestamp;
  /** Attempts the compensation made, counted before each (a crash or redrive keeps the count). */
  compensation_attempts: Generated<number>;
  /** The last failed compensation attempt's error. */
  compensation_error: string | null;
  /** Instance id of the process whose compensation consumer undid the stage. */
  compensated_by: string | null;
}

/** States of a task a run sent to its group's workers (`task_runs`). */
export type TaskStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/** One task of a run, claimed by the worker delivery that runs it (`work.<group>`). */
export interface TaskRunsTable {
  id: Generated<string>;
  /** The run's organization (null for runs written before tenancy). */
  org_id: string | null;
  run_id: string;
  iteration: Generated<number>;
  task_id: string;
  group_name: string;
  kind: string;
  status: TaskStatus;
  /** Deliveries that claimed it, counted before each. */
  attempts: Generated<number>;
  output: JSONColumnType<
    Record<string, unknown> | null,
    Record<string, unknown> | null | undefined,
    Record<string, unknown> | null
  >;
  provider: string | null;
  model: string | null;
  prompt_tokens: Generated<number>;
  completion_tokens: Generated<number>;
  /** The provider calls of the last attempt: `[{provider, outcome, error}]`. */
  tried: JSONColumnType<unknown[], unknown[] | undefined, unknown[]>;
  error: string | null;
  /** Instance id of the worker whose delivery claimed it last. */
  claimed_by: string | null;
  /** Until when that delivery holds the task (renewed while it works); another waits for it. */
  lease_until: Date | null;
  started_at: Generated<Date>;
  finished_at: Date | null;
}

export interface ModelProvidersTable {
  name: string;
  /** Order of preference: the first that serves a group is its primary. */
  position: number;
  kind: 'local' | 'openai-compatible' | 'anthropic';
  base_url: string | null;
  model: string | null;
  /** The environment variable holding its API key (the key itself is never stored). */
  api_key_env: string | null;
  concurrency: Generated<number>;
  /** Requests per minute it may be sent by all workers together; null: no budget. */
  rpm: number | null;
  /** The service groups it serves; null: every group. */
  groups: string[] | null;
  enabled: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AuditLogsTable {
  id: string;
  actor: string;
  action: string;
  target: string;
  status: string;
  details: Json;
  timestamp: Timestamp;
}

export interface ServiceGroupsTable {
  name: string;
  weight: number;
  enabled: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoutingActionsTable {
  action: string;
  group_name: string;
  created_at: Timestamp;
}

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  plan: Generated<Plan>;
  /** When billing last changed the plan (billing.tier.changed); null until it has. */
  plan_changed_at: Date | null;
  created_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  org_id: string;
  email: string;
  role: Role;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: Generated<string>;
  org_id: string;
  user_id: string | null;
  name: string;
  /** The first characters of the key (`hk_` + 8), shown in listings; the key itself is never stored. */
  prefix: string;
  /** SHA-256 (hex) of the whole key. */
  key_hash: string;
  role: Role;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

/** The one schema shared by every service (ARCHITECTURE §5). */
/** `documents`: a knowledge vault document (one per organization, source and source id). */
export interface DocumentsTable {
  id: Generated<string>;
  org_id: string;
  source: string;
  source_id: string;
  title: string | null;
  content: string;
  content_hash: string;
  metadata: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** `embeddings`: one passage of a vault document, its text and its vector. */
export interface EmbeddingsTable {
  id: Generated<string>;
  org_id: string;
  document_id: string;
  label: ColumnType<string, never, never>;
  ordinal: number;
  text: string;
  length: Generated<number>;
  provider: string;
  model: string;
  dims: number;
  vector: JSONColumnType<number[], string, string>;
  created_at: Timestamp;
}

/** `knowledge_terms`: BM25 postings, one per (organization, lexeme, passage). */
export interface KnowledgeTermsTable {
  org_id: string;
  term: string;
  label: string | number | bigint;
  tf: number;
  length: number;
}

/** `knowledge_term_stats`: document frequency of each lexeme in an organization's passages. */
export interface KnowledgeTermStatsTable {
  org_id: string;
  term: string;
  df: BigIntColumn;
}

/** `knowledge_corpus_stats`: an organization's passage count and total length (BM25's N, avgdl). */
export interface KnowledgeCorpusStatsTable {
  org_id: string;
  passages: BigIntColumn;
  total_length: BigIntColumn;
}

/** `memory_receipts`: what the vault did with a document and why. */
export interface MemoryReceiptsTable {
  id: Generated<string>;
  org_id: string;
  operation: string;
  source: string;
  source_id: string | null;
  document_id: string | null;
  stored: boolean;
  reason: string | null;
  details: Json;
  created_at: Timestamp;
}

export interface BillingCustomersTable {
  org_id: string;
  stripe_customer_id: string;
  deleted_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface BillingSubscriptionsTable {
  org_id: string;
  stripe_subscription_id: string;
  price_plan: Plan;
  plan: Plan;
  status: string;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: NullableTimestamp;
  last_paid_at: NullableTimestamp;
  source_at: Date;
  source_version: BigIntColumn;
  source_event_id: string;
  updated_at: Timestamp;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  created: Date;
  livemode: boolean;
  payload: Json;
  org_id: string | null;
  outcome: string;
  received_at: Timestamp;
}

export interface BillingTierOutboxTable {
  id: string;
  org_id: string;
  plan: Plan;
  previous_plan: Plan;
  changed_at: Date;
  reason: string;
  published_at: NullableTimestamp;
}

export interface ModelPricesTable {
  provider: string;
  model: string;
  /** NUMERIC: read as a string. */
  input_usd_per_mtok: ColumnType<string, string | number, string | number>;
  output_usd_per_mtok: ColumnType<string, string | number, string | number>;
  updated_at: Timestamp;
}

export interface UsageRecordsTable {
  run_id: string;
  org_id: string;
  action: string;
  status: string;
  finished_at: Date;
  tokens_in: BigIntColumn;
  tokens_out: BigIntColumn;
  tasks: number;
  cost_micros: BigIntColumn;
  by_model: JSONColumnType<unknown[], unknown[], unknown[]>;
  published_at: NullableTimestamp;
  metered_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface OrgBudgetsTable {
  org_id: string;
  monthly_credits_micros: BigIntColumn;
  period_start: ColumnType<Date, Date | string, Date | string>;
  committed_micros: ColumnType<string, string | number | undefined, string | number>;
  reserved_micros: ColumnType<string, string | number | undefined, string | number>;
  updated_at: Timestamp;
}

export interface BudgetReservationsTable {
  run_id: string;
  org_id: string;
  amount_micros: BigIntColumn;
  status: 'RESERVED' | 'COMMITTED' | 'RELEASED';
  committed_micros: ColumnType<string, string | number | undefined, string | number>;
  created_at: Timestamp;
  settled_at: NullableTimestamp;
}

/** `knowledge_repo_cursors`: the last commit of a repository an organization fully ingested. */
export interface KnowledgeRepoCursorsTable {
  org_id: string;
  repo: string;
  commit: string;
  updated_at: Timestamp;
}

/** `knowledge_settings`: what the vault may take in for an organization (opt-ins). */
export interface KnowledgeSettingsTable {
  org_id: string;
  pipeline_results: Generated<boolean>;
  updated_at: Timestamp;
}

export interface Database {
  services: ServicesTable;
  nodes: NodesTable;
  workflows: WorkflowsTable;
  pipeline_runs: PipelineRunsTable;
  pipeline_stage_runs: PipelineStageRunsTable;
  task_runs: TaskRunsTable;
  model_providers: ModelProvidersTable;
  audit_logs: AuditLogsTable;
  service_groups: ServiceGroupsTable;
  routing_actions: RoutingActionsTable;
  organizations: OrganizationsTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  documents: DocumentsTable;
  embeddings: EmbeddingsTable;
  knowledge_terms: KnowledgeTermsTable;
  knowledge_term_stats: KnowledgeTermStatsTable;
  knowledge_corpus_stats: KnowledgeCorpusStatsTable;
  memory_receipts: MemoryReceiptsTable;
  billing_customers: BillingCustomersTable;
  billing_subscriptions: BillingSubscriptionsTable;
  stripe_events: StripeEventsTable;
  billing_tier_outbox: BillingTierOutboxTable;
  model_prices: ModelPricesTable;
  usage_records: UsageRecordsTable;
  org_budgets: OrgBudgetsTable;
  budget_reservations: BudgetReservationsTable;
  knowledge_repo_cursors: KnowledgeRepoCursorsTable;
  knowledge_settings: KnowledgeSettingsTable;
}

export type PipelineRun = Selectable<PipelineRunsTable>;
export type NewPipelineRun = Insertable<PipelineRunsTable>;
export type PipelineRunUpdate = Updateable<PipelineRunsTable>;
export type StageRun = Selectable<PipelineStageRunsTable>;
export type TaskRun = Selectable<TaskRunsTable>;
export type AuditLog = Selectable<AuditLogsTable>;
export type Organization = Selectable<OrganizationsTable>;
export type ApiKey = Selectable<ApiKeysTable>;
