import { SERVICE_NAMES, type ServiceName } from './vocabulary.js';

/**
 * The bus catalog: every subject Heady puts on NATS, who may publish it and who may receive
 * it. Certificates (what a service may sign), NATS permissions (what it may publish and
 * subscribe to), sealing (whom a RESTRICTED payload is encrypted to) and the test that
 * checks every handler and publisher of the services are all derived from this one table.
 */
export interface SubjectGrant {
  /** A NATS subject or pattern (`*` one token, `>` the rest). */
  subject: string;
  /** What travels on it. */
  kind: 'rpc' | 'command' | 'event';
  /** The services that may publish (and sign) it. */
  publishers: readonly ServiceName[];
  /** The services that consume it (a request's answerer, a stream's durable consumers). */
  receivers: readonly ServiceName[];
  /**
   * The one service a RESTRICTED payload on it is sealed to, and the one that may subscribe
   * to it with core NATS (a request's answerer, a work queue's consumer). Omitted for
   * subjects read by many (run events, audit, billing), which carry no RESTRICTED payload.
   */
  recipient?: ServiceName;
  /** What it is for, in a sentence. */
  doc: string;
}

const EVERY_SERVICE = SERVICE_NAMES;

function rpc(subject: string, from: ServiceName, to: ServiceName, doc: string): SubjectGrant {
  return { subject, kind: 'rpc', publishers: [from], receivers: [to], recipient: to, doc };
}

/** Request/reply subjects, one per RPC (see `rpc.ts` for their payload types). */
export const RPC_SUBJECTS = {
  startRun: 'conductor.runs.start',
  insertVectors: 'memory.vectors.insert',
  searchMemory: 'memory.search',
  memoryZone: 'memory.zone',
  memoryStats: 'memory.stats',
  deleteMemorySession: 'memory.sessions.delete',
  ingestKnowledge: 'knowledge.documents.ingest',
  deleteKnowledgeDocument: 'knowledge.documents.delete',
  searchKnowledge: 'knowledge.search',
  listKnowledgeReceipts: 'knowledge.receipts.list',
  // billing answers in `bill.>`, not `billing.>`: the BILLING stream captures `billing.>`,
  // and a request published there would be stored and acknowledged by JetStream
  billingCheckout: 'bill.checkout',
  billingPortal: 'bill.portal',
  billingSubscription: 'bill.subscription',
  billingWebhook: 'bill.webhook',
  billingUsage: 'bill.usage',
  budgetReserve: 'bill.budget.reserve',
  budgetRelease: 'bill.budget.release',
  putConsent: 'device.consents.put',
  listConsents: 'device.consents.list',
  recordTracking: 'device.tracking.record',
  registerDevice: 'device.devices.register',
  listDevices: 'device.devices.list',
  revokeDevice: 'device.devices.revoke',
  pushBlob: 'device.blobs.push',
  listBlobs: 'device.blobs.list',
  putKeyShares: 'device.keys.put',
  listKeyShares: 'device.keys.list',
  syncKnowledgeRepo: 'knowledge.repos.sync',
  knowledgeRepoCursor: 'knowledge.repos.cursor',
  knowledgeSettings: 'knowledge.settings',
} as const;

/** `runs.<runId>.<event>`: the subject of a run event. */
export const RUN_EVENTS_PREFIX = 'runs.';
/** `runs.<runId>.task.<outcome>`: the workers' announcements of a run's settled tasks. */
export const RUN_TASK_EVENTS = `${RUN_EVENTS_PREFIX}*.task.*`;

/** The subject of run `runId`'s settled tasks (what execute's wait wakes on). */
export function runTaskEventsOf(runId: string): string {
  return RUN_TASK_EVENTS.replace('*', runId);
}
/** `runs.<runId>.run.<what>`: a run's own events (started, succeeded, failed, cancelled...). */
export const RUN_STATE_EVENTS = `${RUN_EVENTS_PREFIX}*.run.*`;

/** The subject of run `runId`'s own events (what the gateway's wait for its end wakes on). */
export function runStateEventsOf(runId: string): string {
  return RUN_STATE_EVENTS.replace('*', runId);
}

/** Subject patterns of the streams (see `libs/bus` topology for the streams themselves). */
export const STREAM_SUBJECTS = {
  /** `pipeline.stage.<stage>`: a stage command (PIPELINE). */
  stageCommands: 'pipeline.stage.*',
  /** `pipeline.compensate.<stage>`: a compensation command (PIPELINE). */
  compensationCommands: 'pipeline.compensate.*',
  /** `work.<group>`: a task for a service group's model providers (WORK). */
  work: 'work.*',
  /** `runs.<runId>.<event>`: what happened to a run (RUN_EVENTS). */
  runEvents: `${RUN_EVENTS_PREFIX}>`,
  /** `audit.<kind>`: an audit event (AUDIT). */
  audit: 'audit.>',
  /** `billing.<event>`: plan changes and usage (BILLING). */
  billing: 'billing.>',
  /** `dlq.<stream>.<consumer>`: a dead letter, copied by the bus library (DLQ). */
  deadLetters: 'dlq.>',
  /** `knowledge.document.<event>`: a vault document stored or dropped (KNOWLEDGE). */
  knowledge: 'knowledge.document.*',
  /**
   * `device.sync.<orgId>.<userId>`: a new blob in a user's sync log (DEVICE). Only
   * `device.sync.` is captured, so the `device.*` RPCs of device-sync are never stored.
   */
  device: 'device.sync.*.*',
  /** `keys.revoked.<kid>`: a root-signed key revocation (KEY_REVOCATIONS, see `libs/bus` keys). */
  revocations: 'keys.revoked.*',
} as const;

/** `device.sync.<orgId>.<userId>`: where a new blob of the user's sync log is announced. */
export function deviceSyncSubject(orgId: string, userId: string): string {
  for (const t of [orgId, userId])
    if (!/^[A-Za-z0-9_-]+$/.test(t)) throw new Error(`not a subject token: "${t}"`);
  return `device.sync.${orgId}.${userId}`;
}

/** `dlq.<stream>.<consumer>`: where the bus library copies a dead letter. */
export function deadLetterSubject(stream: string, consumer: string): string {
  return `${STREAM_SUBJECTS.deadLetters.slice(0, -1)}${stream}.${consumer}`;
}

/** `keys.revoked.<kid>`: where the revocation of key `kid` is appended. */
export function revocationSubject(kid: string): string {
  return `${STREAM_SUBJECTS.revocations.slice(0, -1)}${kid}`;
}

/** `live.<runId>.token`: a run's answer as it is written (core NATS only; no stream keeps it). */
export const LIVE_TOKENS_SUBJECT = 'live.*.token';

/** The subject the text deltas of run `runId` travel on. */
export function liveTokenSubject(runId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`not a run id: "${runId}"`);
  return `live.${runId}.token`;
}

/** `pipeline.stage.<stage>`: the subject a stage consumes its commands from. */
export const STAGE_SUBJECT_PREFIX = 'pipeline.stage.';
/** `pipeline.compensate.<stage>`: the subject a stage's compensation consumer reads. */
export const COMPENSATION_SUBJECT_PREFIX = 'pipeline.compensate.';

/** The first stage's subject: the only stage command the conductor may publish. */
export const FIRST_STAGE_SUBJECT = `${STAGE_SUBJECT_PREFIX}channel-entry`;

/** `billing.tier.changed`: an organization's plan changed (consumed by the gateway's tier cache). */
export const TIER_CHANGED_SUBJECT = 'billing.tier.changed';

/** `knowledge.document.stored`: a vault document's passages were stored (new or changed). */
export const KNOWLEDGE_STORED_SUBJECT = 'knowledge.document.stored';
/** `knowledge.document.dropped`: a vault document was removed (deleted, archived at its source). */
export const KNOWLEDGE_DROPPED_SUBJECT = 'knowledge.document.dropped';
/** `billing.usage`: what one finished run used (tokens per model, tasks, cost), once per run. */
export const USAGE_SUBJECT = 'billing.usage';

/** `audit.security.rejected`: a message refused before any handler ran. */
export const SECURITY_REJECTED_SUBJECT = 'audit.security.rejected';
/** `audit.routing`: the conductor's routing decisions. */
export const ROUTING_AUDIT_SUBJECT = 'audit.routing';
/** `audit.access`: the gateway's access decisions. */
export const ACCESS_AUDIT_SUBJECT = 'audit.access';
/** `audit.privacy`: consent changes, device registrations and revocations (device-sync). */
export const PRIVACY_AUDIT_SUBJECT = 'audit.privacy';
/** `audit.ban`: a new auto-ban with its evidence. */
export const BAN_AUDIT_SUBJECT = 'audit.ban';

/**
 * Every subject, who may publish it and who receives it. Order matters for overlapping
 * patterns: the first grant whose pattern covers a subject names its recipient.
 */
export const CATALOG: readonly SubjectGrant[] = [
  rpc(
    RPC_SUBJECTS.startRun,
    'gateway',
    'conductor',
    'start a run (StartRunRequest → StartRunReply)',
  ),
  rpc(RPC_SUBJECTS.insertVectors, 'gateway', 'vector-memory', 'store texts in vector memory'),
  {
    ...rpc(
      RPC_SUBJECTS.searchMemory,
      'gateway',
      'vector-memory',
      'cosine top-k over vector memory',
    ),
    // ingest retrieves a chat run's context from the organization's memory
    publishers: ['gateway', 'pipeline'],
  },
  rpc(RPC_SUBJECTS.memoryZone, 'gateway', 'vector-memory', "a query's octant"),
  rpc(RPC_SUBJECTS.memoryStats, 'gateway', 'vector-memory', "an organization's memory statistics"),
  rpc(RPC_SUBJECTS.deleteMemorySession, 'gateway', 'vector-memory', 'forget a session'),
  rpc(RPC_SUBJECTS.ingestKnowledge, 'gateway', 'knowledge-vault', 'store documents in the vault'),
  rpc(RPC_SUBJECTS.deleteKnowledgeDocument, 'gateway', 'knowledge-vault', 'drop a vault document'),
  {
    // the pipeline's ingest stage retrieves context for runs with it, as clients do via REST
    ...rpc(RPC_SUBJECTS.searchKnowledge, 'gateway', 'knowledge-vault', 'hybrid search'),
    publishers: ['gateway', 'pipeline'],
  },
  rpc(
    RPC_SUBJECTS.listKnowledgeReceipts,
    'gateway',
    'knowledge-vault',
    "page through an organization's vault receipts",
  ),
  rpc(RPC_SUBJECTS.billingCheckout, 'gateway', 'billing', 'a Stripe Checkout Session for a plan'),
  rpc(RPC_SUBJECTS.billingPortal, 'gateway', 'billing', 'a Stripe customer portal session'),
  rpc(RPC_SUBJECTS.billingSubscription, 'gateway', 'billing', "an organization's subscription"),
  rpc(RPC_SUBJECTS.billingWebhook, 'gateway', 'billing', 'a Stripe webhook, raw, to verify'),
  rpc(RPC_SUBJECTS.billingUsage, 'gateway', 'billing', "an organization's usage, grouped"),
  rpc(RPC_SUBJECTS.budgetReserve, 'conductor', 'billing', "reserve a run's cost at admission"),
  rpc(RPC_SUBJECTS.budgetRelease, 'conductor', 'billing', 'release a never-stored run'),
  rpc(RPC_SUBJECTS.putConsent, 'gateway', 'device-sync', "grant or revoke a user's consent"),
  rpc(RPC_SUBJECTS.listConsents, 'gateway', 'device-sync', "a user's consents and their history"),
  rpc(RPC_SUBJECTS.recordTracking, 'gateway', 'device-sync', 'store a consented tracking event'),
  rpc(RPC_SUBJECTS.registerDevice, 'gateway', 'device-sync', "register a user's device"),
  rpc(RPC_SUBJECTS.listDevices, 'gateway', 'device-sync', "a user's devices"),
  rpc(RPC_SUBJECTS.revokeDevice, 'gateway', 'device-sync', 'revoke a device'),
  rpc(RPC_SUBJECTS.pushBlob, 'gateway', 'device-sync', "append a blob to a user's sync log"),
  rpc(RPC_SUBJECTS.listBlobs, 'gateway', 'device-sync', "page through a user's sync log"),
  rpc(RPC_SUBJECTS.putKeyShares, 'gateway', 'device-sync', 'store content keys sealed to devices'),
  rpc(RPC_SUBJECTS.listKeyShares, 'gateway', 'device-sync', "a device's sealed content keys"),
  rpc(
    RPC_SUBJECTS.syncKnowledgeRepo,
    'gateway',
    'knowledge-vault',
    "a batch of a repository's files",
  ),
  rpc(
    RPC_SUBJECTS.knowledgeRepoCursor,
    'gateway',
    'knowledge-vault',
    'the last commit of a repository fully ingested',
  ),
  rpc(
    RPC_SUBJECTS.knowledgeSettings,
    'gateway',
    'knowledge-vault',
    "an organization's vault opt-ins",
  ),
  {
    subject: FIRST_STAGE_SUBJECT,
    kind: 'command',
    // the pipeline publishes it too, under the stage-commands grant below
    publishers: ['conductor'],
    receivers: ['pipeline'],
    recipient: 'pipeline',
    doc: 'the first stage command of an admitted run',
  },
  {
    subject: STREAM_SUBJECTS.stageCommands,
    kind: 'command',
    publishers: ['pipeline'],
    receivers: ['pipeline'],
    recipient: 'pipeline',
    doc: 'the next stage command, published by the stage before it',
  },
  {
    subject: STREAM_SUBJECTS.compensationCommands,
    kind: 'command',
    publishers: ['pipeline'],
    receivers: ['pipeline'],
    recipient: 'pipeline',
    doc: 'undo one completed stage of a failed, cancelled or overdue run',
  },
  {
    subject: STREAM_SUBJECTS.work,
    kind: 'command',
    publishers: ['pipeline'],
    receivers: ['workers'],
    recipient: 'workers',
    doc: "a task for a service group's model providers, run by the workers",
  },
  // Each answering service's namespace: whoever else signs a reply there is refused, and
  // only that service subscribes to it (no publisher: certificates stay as narrow as above).
  ...(
    [
      ['conductor.>', 'conductor'],
      ['memory.>', 'vector-memory'],
      ['pipeline.>', 'pipeline'],
      ['knowledge.>', 'knowledge-vault'],
      ['bill.>', 'billing'],
      ['device.>', 'device-sync'],
    ] as const
  ).map(([subject, to]): SubjectGrant => ({
    subject,
    kind: 'rpc',
    publishers: [],
    receivers: [to],
    recipient: to,
    doc: `the namespace ${to} answers in`,
  })),
  {
    subject: LIVE_TOKENS_SUBJECT,
    kind: 'event',
    publishers: ['workers'],
    receivers: ['gateway'],
    // the gateway subscribes with core NATS; RESTRICTED runs' answers are never sent here
    recipient: 'gateway',
    doc: "a run's answer as the model writes it: text deltas, at most once, for SSE and /v1 streams",
  },
  {
    subject: RUN_TASK_EVENTS,
    kind: 'event',
    publishers: ['workers'],
    receivers: ['pipeline'],
    // execute subscribes with core NATS to wake its wait for a run's answers (it reads them
    // from task_runs, never from the event); task events carry no RESTRICTED payload
    recipient: 'pipeline',
    doc: "a run's settled tasks (task.succeeded, task.failed): they wake execute's gather",
  },
  {
    subject: RUN_STATE_EVENTS,
    kind: 'event',
    publishers: ['conductor', 'pipeline'],
    // billing meters a run's usage from its end (the durable `billing-usage` on RUN_EVENTS)
    receivers: ['gateway', 'billing'],
    // the gateway subscribes with core NATS to wake its wait for a run's end (it reads the
    // run from PostgreSQL, never from the event); run events carry no RESTRICTED payload
    recipient: 'gateway',
    doc: "a run's own events (run.started … run.succeeded): they wake the gateway's wait for an answer",
  },
  {
    subject: STREAM_SUBJECTS.runEvents,
    kind: 'event',
    // the workers announce their tasks' results (task.succeeded, task.failed)
    publishers: ['conductor', 'pipeline', 'workers'],
    // billing's durable `billing-usage` records what each finished run used; the vault's
    // `knowledge-pipeline` durable takes finalized runs of opted-in organizations
    receivers: ['gateway', 'billing', 'knowledge-vault'],
    doc: 'what happened to a run (SSE, billing usage, any subscriber)',
  },
  {
    subject: STREAM_SUBJECTS.audit,
    kind: 'event',
    publishers: EVERY_SERVICE,
    receivers: ['conductor'],
    doc: 'audit events, stored by the audit writer',
  },
  {
    subject: STREAM_SUBJECTS.device,
    kind: 'event',
    publishers: ['device-sync'],
    receivers: ['gateway'],
    doc: "a new blob in a user's sync log (seq and hash only: the blob stays end-to-end encrypted)",
  },
  {
    subject: STREAM_SUBJECTS.billing,
    kind: 'event',
    publishers: ['billing'],
    receivers: ['gateway'],
    doc: 'plan changes and usage',
  },
  {
    subject: STREAM_SUBJECTS.knowledge,
    kind: 'event',
    publishers: ['knowledge-vault'],
    // for internal subscribers; none consumes it durably yet
    receivers: [],
    doc: 'a vault document stored or dropped (`knowledge.document.stored|dropped`)',
  },
];

/**
 * Subjects outside the certificates: messages no service key signs — unsigned copies the
 * bus library writes for operators, and facts whose payload carries its own root signature.
 */
export const UNSIGNED_SUBJECTS: readonly SubjectGrant[] = [
  {
    subject: STREAM_SUBJECTS.deadLetters,
    kind: 'event',
    publishers: EVERY_SERVICE,
    receivers: [],
    doc: 'dead letters (read by operators with `heady dlq`)',
  },
  {
    subject: STREAM_SUBJECTS.revocations,
    kind: 'event',
    // only the operator publishes (`heady keys revoke`, whose NATS user may publish `>`);
    // no service's NATS permissions include it
    publishers: [],
    // every service's key registry reads it by direct get, no consumer or subscription
    receivers: [],
    doc: 'root-signed key revocations, append-only (verifiers refuse a revoked key)',
  },
];

/** Whether `subject` is covered by a list of NATS subject patterns. */
export function subjectPermitted(patterns: readonly string[], subject: string): boolean {
  return patterns.some((p) => {
    const a = p.split('.');
    const s = subject.split('.');
    for (let i = 0; i < a.length; i++) {
      if (a[i] === '>') return s.length > i;
      if (i >= s.length || (a[i] !== '*' && a[i] !== s[i])) return false;
    }
    return a.length === s.length;
  });
}

/**
 * Whether pattern `outer` covers every subject pattern `inner` matches (`pipeline.>` covers
 * `pipeline.stage.*`; `pipeline.stage.*` does not cover `pipeline.>`).
 */
export function patternCovers(outer: string, inner: string): boolean {
  const a = outer.split('.');
  const b = inner.split('.');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '>') return b.length > i;
    if (i >= b.length || b[i] === '>') return false;
    if (a[i] !== '*' && (b[i] === '*' || a[i] !== b[i])) return false;
  }
  return a.length === b.length;
}

const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

/** The subject patterns `service` may publish and sign (its certificate's subjects). */
export function publishableBy(service: string): string[] {
  return uniq(
    CATALOG.filter((g) => (g.publishers as readonly string[]).includes(service)).map(
      (g) => g.subject,
    ),
  );
}

/** The subject patterns `service` consumes (as an answerer or a durable consumer). */
export function receivableBy(service: string): string[] {
  return uniq(
    CATALOG.filter((g) => (g.receivers as readonly string[]).includes(service)).map(
      (g) => g.subject,
    ),
  );
}

/** Whether the catalog lets `service` publish every subject `pattern` matches. */
export function mayPublish(service: string, pattern: string): boolean {
  return publishableBy(service).some((p) => patternCovers(p, pattern));
}

/** Whether the catalog lets `service` receive every subject `pattern` matches. */
export function mayReceive(service: string, pattern: string): boolean {
  return receivableBy(service).some((p) => patternCovers(p, pattern));
}

/** Subject pattern → the service a RESTRICTED payload on it is sealed to (and that alone may subscribe). */
export function recipients(): Record<string, ServiceName> {
  const out: Record<string, ServiceName> = {};
  for (const g of CATALOG) if (g.recipient && !(g.subject in out)) out[g.subject] = g.recipient;
  return out;
}
