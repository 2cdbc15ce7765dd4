import { counter, histogram } from '@heady/telemetry';

/** JetStream deliveries by how they were settled (`ack`, `nak`, `term`, `dlq`, `unsettled`). */
export const messages = counter(
  'heady_bus_messages_total',
  'JetStream messages handled, by outcome',
  ['stream', 'consumer', 'outcome'],
);

/** Deliveries and requests refused by admission, by `RejectReason` (`@heady/pqc`). */
export const rejected = counter(
  'heady_bus_rejected_total',
  'Messages refused before any handler ran, by reason',
  ['reason'],
);

/** Deliveries (scope: the stream) and requests (scope `rpc`) seen before within the window. */
export const duplicates = counter(
  'heady_bus_duplicates_total',
  'Deliveries and requests whose msg id was already handled within the duplicate window (skipped, not rejected)',
  ['scope'],
);

/** Rejections that published no audit event, and why (`audit-event`, `repeat`). */
export const rejectionsUnaudited = counter(
  'heady_bus_rejections_unaudited_total',
  'Rejected messages not audited: audit events themselves (no audit of an audit), or a repeat of a rejection already audited',
  ['why'],
);

/** Refused deliveries terminated although their DLQ copy failed. */
export const dlqCopyFailed = counter(
  'heady_bus_dlq_copy_failed_total',
  'Rejected messages terminated without a DLQ copy after every copy attempt failed',
  ['stream', 'consumer'],
);

/** Requests answered `RESOURCE_EXHAUSTED` by the RPC concurrency cap. */
export const rpcOverloaded = counter(
  'heady_bus_rpc_overloaded_total',
  'Requests answered RESOURCE_EXHAUSTED because the responder had its cap of requests running and queued',
  ['subject'],
);

/** Seconds a delivery took from arrival to settlement (admission and handler), per consumer. */
export const handlerSeconds = histogram(
  'heady_bus_handler_seconds',
  'Time a handler took per delivery',
  ['consumer'],
);
