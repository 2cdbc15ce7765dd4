/**
 * The shared words of Heady, each spelled once. Every other package (config, db, pqc, bus,
 * the services, the CLI) imports them from here or receives them as parameters; this file
 * imports nothing of ours.
 */

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

/**
 * Classification tiers, lowest first: of a message (the signature binds it, so a downgrade
 * in transit is detected), of a run, of a route (its access class) and of a caller's clearance.
 */
export const CLASSIFICATIONS = ['PUBLIC', 'INTERNAL', 'PROPRIETARY', 'RESTRICTED'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** True when `value` is one of the {@link CLASSIFICATIONS}. */
export function isClassification(value: unknown): value is Classification {
  return typeof value === 'string' && (CLASSIFICATIONS as readonly string[]).includes(value);
}

/** Roles of an API key, least privileged first (each grants a clearance, see `libs/db`). */
export const ROLES = ['viewer', 'member', 'developer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Plans of an organization, cheapest first; each includes the ones before it. */
export const PLANS = ['FREE', 'PRO', 'ENTERPRISE'] as const;
export type Plan = (typeof PLANS)[number];

/** True when `value` is one of the {@link PLANS}. */
export function isPlan(value: unknown): value is Plan {
  return typeof value === 'string' && (PLANS as readonly string[]).includes(value);
}

/**
 * States of a run, as REST, run events and the CLI all spell them:
 * `PENDING → RUNNING → SUCCEEDED | FAILED | COMPENSATED | CANCELLED`.
 */
export const RUN_STATUSES = [
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'COMPENSATED',
  'CANCELLED',
] as const;
export type RunStatusName = (typeof RUN_STATUSES)[number];

/** States of one stage execution (a `pipeline_stage_runs` row). */
export const STAGE_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATED'] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

/** The events published about a run on `runs.<runId>.<event>`. */
export const RUN_EVENTS = [
  'run.started',
  'stage.started',
  'stage.succeeded',
  'stage.failed',
  'stage.compensated',
  'run.succeeded',
  'run.compensating',
  'run.compensated',
  'run.cancelled',
  'run.failed',
  'task.succeeded',
  'task.failed',
] as const;
export type RunEventName = (typeof RUN_EVENTS)[number];

/** The run events after which nothing more is said about a run. */
export const FINAL_RUN_EVENTS: readonly RunEventName[] = [
  'run.succeeded',
  'run.compensated',
  'run.cancelled',
  'run.failed',
];

/** What a task asks of a group's model providers (`Task.kind`). */
export const TASK_KINDS = ['chat', 'embed'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** True when `value` is one of the {@link TASK_KINDS}. */
export function isTaskKind(value: unknown): value is TaskKind {
  return typeof value === 'string' && (TASK_KINDS as readonly string[]).includes(value);
}

/** The services of a Heady system: each has a NATS user, a signing identity and catalog grants. */
export const SERVICE_NAMES = [
  'gateway',
  'conductor',
  'pipeline',
  'vector-memory',
  'billing',
  'workers',
  'knowledge-vault',
  'device-sync',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** What a user may consent to (`PUT /api/consents/:scope`); each change is kept and audited. */
export const CONSENT_SCOPES = ['TRACKING', 'DEVICE_SYNC', 'VOICE'] as const;
export type ConsentScope = (typeof CONSENT_SCOPES)[number];

/** True when `value` is one of the {@link CONSENT_SCOPES}. */
export function isConsentScope(value: unknown): value is ConsentScope {
  return typeof value === 'string' && (CONSENT_SCOPES as readonly string[]).includes(value);
}
