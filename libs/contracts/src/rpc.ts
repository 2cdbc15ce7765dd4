import { type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { type z } from 'zod';
import { CATALOG, RPC_SUBJECTS } from './catalog.js';
import { ErrorCode, HeadyError } from './errors.js';
import {
  type CheckoutReply,
  type PortalReply,
  type BudgetReserveReply,
  type SubscriptionReply,
  type UsageReply,
  type WebhookReply,
  checkoutRequest,
  portalRequest,
  subscriptionRequest,
  usageRequest,
  budgetReleaseRequest,
  budgetReserveRequest,
  webhookRequest,
} from './billing.js';
import { StartRunReplySchema, StartRunRequestSchema } from './gen/heady/v1/run_pb.js';
import {
  type DeleteSessionReply,
  type MemoryStatsReply,
  type SearchMemoryReply,
  type ZoneReply,
  deleteMemorySessionRequest,
  insertVectorsRequest,
  memoryStatsRequest,
  memoryZoneRequest,
  searchMemoryRequest,
} from './memory.js';
import {
  type DeleteDocumentReply,
  type IngestDocumentsReply,
  type KnowledgeSettingsReply,
  type ListReceiptsReply,
  type RepoCursorReply,
  type RepoSyncReply,
  type SearchKnowledgeReply,
  knowledgeSettingsRequest,
  repoCursorRequest,
  repoSyncRequest,
  deleteDocumentRequest,
  ingestDocumentsRequest,
  listReceiptsRequest,
  searchKnowledgeRequest,
} from './knowledge.js';
import {
  type ConsentsReply,
  type DeviceRecord,
  type KeySharesReply,
  type ListBlobsReply,
  type PushBlobReply,
  type PutConsentReply,
  type TrackingReply,
  listBlobsRequest,
  listConsentsRequest,
  listDevicesRequest,
  listKeySharesRequest,
  pushBlobRequest,
  putConsentRequest,
  putKeySharesRequest,
  recordTrackingRequest,
  registerDeviceRequest,
  revokeDeviceRequest,
} from './device.js';

/** A protobuf body: encoded as `application/protobuf; proto=<type>`. */
export interface ProtoBody<S extends DescMessage = DescMessage> {
  kind: 'proto';
  schema: S;
}

/** A JSON body, checked by the receiver against `schema` when one is given. */
export interface JsonBody<In = unknown, Out = In> {
  kind: 'json';
  schema: z.ZodType<Out, In> | undefined;
}

export type RpcBody = ProtoBody | JsonBody<unknown, unknown>;

/** A protobuf request or reply body. */
export function proto<S extends DescMessage>(schema: S): ProtoBody<S> {
  return { kind: 'proto', schema };
}

/** A JSON body validated by `schema` (what is sent: its input type; what is handled: its output). */
export function json<S extends z.ZodType>(schema: S): JsonBody<z.input<S>, z.output<S>>;
/** A JSON body of type `T`, not validated (a reply the requester trusts as signed). */
export function json<T>(): JsonBody<T, T>;
export function json(schema?: z.ZodType): JsonBody<unknown, unknown> {
  return { kind: 'json', schema };
}

/** What a sender puts in a body. */
export type Sent<B> =
  B extends ProtoBody<infer S>
    ? MessageShape<S>
    : B extends JsonBody<infer In, unknown>
      ? In
      : never;
/** What a handler receives from a body (a JSON body parsed by its schema). */
export type Received<B> =
  B extends ProtoBody<infer S>
    ? MessageShape<S>
    : B extends JsonBody<unknown, infer Out>
      ? Out
      : never;

/** A request/reply RPC on the bus: its subject (from the catalog) and the shapes of both ends. */
export interface Rpc<Req extends RpcBody = RpcBody, Rep extends RpcBody = RpcBody> {
  subject: string;
  request: Req;
  reply: Rep;
}

/** What the caller sends to `R`. */
export type RpcRequest<R extends Rpc> = Sent<R['request']>;
/** What the handler of `R` receives, after validation. */
export type RpcHandled<R extends Rpc> = Received<R['request']>;
/** What the handler of `R` answers and the caller gets back. */
export type RpcReply<R extends Rpc> = Received<R['reply']>;

/**
 * Defines an RPC on `subject`, which the catalog must grant as an RPC (so a subject is
 * written once, in the catalog, and a typo is an error at start-up, not a silent timeout).
 */
export function defineRpc<Req extends RpcBody, Rep extends RpcBody>(
  subject: string,
  request: Req,
  reply: Rep,
): Rpc<Req, Rep> {
  if (!CATALOG.some((g) => g.kind === 'rpc' && g.subject === subject))
    throw new Error(`defineRpc: the bus catalog has no RPC ${subject}`);
  return { subject, request, reply };
}

/**
 * The handled form of a request to `rpc`: a JSON request parsed by its schema (a
 * {@link HeadyError} `VALIDATION_FAILED` listing each issue when it does not fit), any other
 * body as decoded.
 */
export function parseRpcRequest<R extends Rpc>(rpc: R, value: unknown): RpcHandled<R> {
  const body = rpc.request;
  if (body.kind !== 'json' || !body.schema) return value as RpcHandled<R>;
  const r = body.schema.safeParse(value);
  if (r.success) return r.data as RpcHandled<R>;
  const errors = r.error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
  }));
  throw new HeadyError(
    ErrorCode.ValidationFailed,
    `invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    { errors },
  );
}

/** `conductor.runs.start`: the gateway asks the conductor to admit a run. */
export const StartRun = defineRpc(
  RPC_SUBJECTS.startRun,
  proto(StartRunRequestSchema),
  proto(StartRunReplySchema),
);

/** `memory.vectors.insert`: store texts (embedded unless given); answers their ids. */
export const InsertVectors = defineRpc(
  RPC_SUBJECTS.insertVectors,
  json(insertVectorsRequest),
  json<{ ids: string[] }>(),
);

/** `memory.search`: cosine top-k by text or by embedding, optionally within a session. */
export const SearchMemory = defineRpc(
  RPC_SUBJECTS.searchMemory,
  json(searchMemoryRequest),
  json<SearchMemoryReply>(),
);

/** `memory.zone`: the query's octant (0–7) on the organization's principal axes. */
export const MemoryZone = defineRpc(
  RPC_SUBJECTS.memoryZone,
  json(memoryZoneRequest),
  json<ZoneReply>(),
);

/** `memory.stats`: an organization's totals, sessions, time range and index health. */
export const MemoryStats = defineRpc(
  RPC_SUBJECTS.memoryStats,
  json(memoryStatsRequest),
  json<MemoryStatsReply>(),
);

/** `memory.sessions.delete`: forget a session (erasure). */
export const DeleteMemorySession = defineRpc(
  RPC_SUBJECTS.deleteMemorySession,
  json(deleteMemorySessionRequest),
  json<DeleteSessionReply>(),
);

/** `knowledge.documents.ingest`: store documents of one source; answers one receipt per document. */
export const IngestKnowledge = defineRpc(
  RPC_SUBJECTS.ingestKnowledge,
  json(ingestDocumentsRequest),
  json<IngestDocumentsReply>(),
);

/** `knowledge.documents.delete`: drop a document and its passages (a DROP receipt). */
export const DeleteKnowledgeDocument = defineRpc(
  RPC_SUBJECTS.deleteKnowledgeDocument,
  json(deleteDocumentRequest),
  json<DeleteDocumentReply>(),
);

/** `knowledge.search`: hybrid (BM25 + ANN, fused) search of an organization's passages. */
export const SearchKnowledge = defineRpc(
  RPC_SUBJECTS.searchKnowledge,
  json(searchKnowledgeRequest),
  json<SearchKnowledgeReply>(),
);

/** `knowledge.receipts.list`: a page of an organization's receipts, oldest first. */
export const ListKnowledgeReceipts = defineRpc(
  RPC_SUBJECTS.listKnowledgeReceipts,
  json(listReceiptsRequest),
  json<ListReceiptsReply>(),
);

/** `bill.checkout`: a subscription-mode Checkout Session for the organization's customer. */
export const BillingCheckout = defineRpc(
  RPC_SUBJECTS.billingCheckout,
  json(checkoutRequest),
  json<CheckoutReply>(),
);

/** `bill.portal`: a customer portal session (the organization must have a customer). */
export const BillingPortal = defineRpc(
  RPC_SUBJECTS.billingPortal,
  json(portalRequest),
  json<PortalReply>(),
);

/** `bill.subscription`: the organization's plan, status and current period. */
export const BillingSubscription = defineRpc(
  RPC_SUBJECTS.billingSubscription,
  json(subscriptionRequest),
  json<SubscriptionReply>(),
);

/** `bill.webhook`: a Stripe webhook as received, verified and applied by billing. */
export const BillingWebhook = defineRpc(
  RPC_SUBJECTS.billingWebhook,
  json(webhookRequest),
  json<WebhookReply>(),
);

/** `bill.usage`: the organization's recorded usage in a time range, grouped. */
export const BillingUsage = defineRpc(
  RPC_SUBJECTS.billingUsage,
  json(usageRequest),
  json<UsageReply>(),
);

/** `bill.budget.reserve`: the conductor holds a run's estimated cost before admitting it. */
export const BudgetReserve = defineRpc(
  RPC_SUBJECTS.budgetReserve,
  json(budgetReserveRequest),
  json<BudgetReserveReply>(),
);

/** `bill.budget.release`: the conductor gives back the reservation of a run it did not store. */
export const BudgetRelease = defineRpc(
  RPC_SUBJECTS.budgetRelease,
  json(budgetReleaseRequest),
  json<{ released: boolean }>(),
);

/** `device.consents.put`: grant or revoke a user's consent (kept and audited). */
export const PutConsent = defineRpc(
  RPC_SUBJECTS.putConsent,
  json(putConsentRequest),
  json<PutConsentReply>(),
);

/** `device.consents.list`: a user's consents, current and every change. */
export const ListConsents = defineRpc(
  RPC_SUBJECTS.listConsents,
  json(listConsentsRequest),
  json<ConsentsReply>(),
);

/** `device.tracking.record`: store a tracking event under a granted TRACKING consent. */
export const RecordTracking = defineRpc(
  RPC_SUBJECTS.recordTracking,
  json(recordTrackingRequest),
  json<TrackingReply>(),
);

/** `device.devices.register`: a user's new device and its public keys. */
export const RegisterDevice = defineRpc(
  RPC_SUBJECTS.registerDevice,
  json(registerDeviceRequest),
  json<DeviceRecord>(),
);

/** `device.devices.list`: a user's devices, revoked ones included. */
export const ListDevices = defineRpc(
  RPC_SUBJECTS.listDevices,
  json(listDevicesRequest),
  json<{ devices: DeviceRecord[] }>(),
);

/** `device.devices.revoke`: revoke a device (its requests are refused from then on). */
export const RevokeDevice = defineRpc(
  RPC_SUBJECTS.revokeDevice,
  json(revokeDeviceRequest),
  json<DeviceRecord>(),
);

/** `device.blobs.push`: append a device-signed envelope to the user's sync log. */
export const PushBlob = defineRpc(
  RPC_SUBJECTS.pushBlob,
  json(pushBlobRequest),
  json<PushBlobReply>(),
);

/** `device.blobs.list`: the user's sync log after a sequence number. */
export const ListBlobs = defineRpc(
  RPC_SUBJECTS.listBlobs,
  json(listBlobsRequest),
  json<ListBlobsReply>(),
);

/** `device.keys.put`: store a content key sealed to each of the user's devices. */
export const PutKeyShares = defineRpc(
  RPC_SUBJECTS.putKeyShares,
  json(putKeySharesRequest),
  json<{ stored: number }>(),
);

/** `device.keys.list`: the content keys sealed to the requesting device. */
export const ListKeyShares = defineRpc(
  RPC_SUBJECTS.listKeyShares,
  json(listKeySharesRequest),
  json<KeySharesReply>(),
);

/** `knowledge.repos.sync`: a batch of a repository's files (source REPO); `final` moves its cursor. */
export const SyncKnowledgeRepo = defineRpc(
  RPC_SUBJECTS.syncKnowledgeRepo,
  json(repoSyncRequest),
  json<RepoSyncReply>(),
);

/** `knowledge.repos.cursor`: the last commit of a repository fully ingested. */
export const KnowledgeRepoCursor = defineRpc(
  RPC_SUBJECTS.knowledgeRepoCursor,
  json(repoCursorRequest),
  json<RepoCursorReply>(),
);

/** `knowledge.settings`: read (and with a field, change) an organization's vault opt-ins. */
export const KnowledgeSettings = defineRpc(
  RPC_SUBJECTS.knowledgeSettings,
  json(knowledgeSettingsRequest),
  json<KnowledgeSettingsReply>(),
);

/** Every RPC of the catalog, for checks that walk them all. */
export const RPCS: readonly Rpc[] = [
  StartRun,
  InsertVectors,
  SearchMemory,
  MemoryZone,
  MemoryStats,
  DeleteMemorySession,
  IngestKnowledge,
  DeleteKnowledgeDocument,
  SearchKnowledge,
  ListKnowledgeReceipts,
  BillingCheckout,
  BillingPortal,
  BillingSubscription,
  BillingWebhook,
  BillingUsage,
  BudgetReserve,
  BudgetRelease,
  PutConsent,
  ListConsents,
  RecordTracking,
  RegisterDevice,
  ListDevices,
  RevokeDevice,
  PushBlob,
  ListBlobs,
  PutKeyShares,
  ListKeyShares,
  SyncKnowledgeRepo,
  KnowledgeRepoCursor,
  KnowledgeSettings,
];
