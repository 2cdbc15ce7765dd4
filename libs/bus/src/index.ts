export { JetStreamServer, type JetStreamServerOptions } from './server/jetstream.server.js';
export { failureOutcome, type FailureOutcome } from './server/settlement.js';
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
  STREAMS,
  KV_BUCKETS,
  type ConsumerSpec,
  type StreamSpec,
  type TopologyOptions,
} from './topology.js';
export { copyToDlq, watchMaxDeliveries } from './dead-letter.js';
export { decode, encode, encodeValue, payloadOf, type Payload } from './codec.js';
export {
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
  RetryableError,
  isBusError,
  isDecodeError,
  isPermanentError,
  isPublishError,
  isRemoteError,
  isRetryableError,
} from './errors.js';
export { KvKeyRegistry } from './keys.js';
export { PayloadSealing, type PayloadSealingOptions } from './sealing.js';
export { replayMessage, type ReplayOptions, type ReplayResult } from './replay.js';
