export { JetStreamServer, type JetStreamServerOptions } from './server/jetstream.server.js';
export { isAuditSubject, type RejectedAuditSink } from './server/rejection.js';
export { failureOutcome, type FailureOutcome } from './server/settlement.js';
export { HandleRpc, ungrantedPatterns } from './server/rpc-handler.js';
export { BusExceptionFilter } from './server/exception.filter.js';
export { JetStreamClient, JetStreamRecord } from './client/jetstream.client.js';
export { BusPublisher, type PublishOptions, type RequestOptions } from './publisher.js';
export { JetStreamContext } from './context.js';
export { connectBus, closeBus, type BusConnection, type ConnectBusOptions } from './connection.js';
export {
  DEFAULT_MAX_ACK_PENDING,
  ensureConsumers,
  ensureKv,
  ensureStreams,
  ensureTopology,
  compensationConsumer,
  stageConsumer,
  workConsumer,
  STREAMS,
  KV_BUCKETS,
  type ConsumerSpec,
  type StreamSpec,
  type TopologyOptions,
} from './topology.js';
export {
  copyToDlq,
  countDlqByClass,
  listDeadLetters,
  type DeadLetterRow,
  reasonClass,
  watchDlqGauge,
  watchMaxDeliveries,
} from './dead-letter.js';
export { decode, encode, encodeValue, payloadOf, type Payload } from './codec.js';
export {
  ERROR_CONTENT_TYPE,
  Header,
  backoffFor,
  compensationMsgId,
  dlqMsgId,
  eventMsgId,
  stageMsgId,
  subjectMatches,
} from './ids.js';
export {
  BusError,
  BusErrorCode,
  DecodeError,
  PermanentError,
  PublishError,
  RemoteError,
  ReplayRefusedError,
  RetryableError,
  isBusError,
  isDecodeError,
  isPermanentError,
  isPublishError,
  isRemoteError,
  isReplayRefusedError,
  isRetryableError,
  outageAsRetry,
} from './errors.js';
export { KvKeyRegistry, REVOCATION_STREAM } from './keys.js';
export { DEDUP_BUCKET, DedupStore, type Claim } from './dedup.js';
export { PayloadSealing, type PayloadSealingOptions } from './sealing.js';
export {
  replayMessage,
  verifyStored,
  type ReplayOptions,
  type ReplayResult,
  type StoredVerification,
} from './replay.js';
export { verifyDelivered } from './verify-delivered.js';
export { nudgesOn, type Nudges } from './nudges.js';
export {
  NATS_USERS,
  ensureNkeyUsers,
  natsPermissions,
  natsServerConfig,
  nkeyPublicKey,
  nkeySeedFile,
  type NatsPermissions,
  type NatsServerConfigOptions,
  type NatsServerTls,
  type NatsUser,
} from './nats-auth.js';
export { devTlsCertificates, type DevTlsFiles } from './dev-tls.js';
