export { JetStreamServer, type JetStreamServerOptions } from './server/jetstream.server.js';
export { BusExceptionFilter } from './server/exception.filter.js';
export { JetStreamClient, JetStreamRecord } from './client/jetstream.client.js';
export { BusPublisher, type PublishOptions, type RequestOptions } from './publisher.js';
export { JetStreamContext } from './context.js';
export { connectBus, closeBus, type BusConnection } from './connection.js';
export {
  ensureTopology,
  stageConsumer,
  STREAMS,
  KV_BUCKETS,
  type ConsumerSpec,
  type StreamSpec,
  type TopologyOptions,
} from './topology.js';
export { copyToDlq, watchMaxDeliveries } from './dead-letter.js';
export { decode, encode, encodeValue, type Payload } from './codec.js';
export { Header, backoffFor, dlqMsgId, eventMsgId, stageMsgId, subjectMatches } from './ids.js';
export {
  BusError,
  BusErrorCode,
  DecodeError,
  PermanentError,
  PublishError,
  RemoteError,
  RetryableError,
  isPermanentError,
  isPublishError,
  isRemoteError,
  isRetryableError,
} from './errors.js';
export { KvKeyRegistry } from './keys.js';
