export { createTestDatabase, TEST_PG_URL, type TestDatabase } from './postgres.js';
export { freePort } from './ports.js';
export {
  NATS_SERVER_BIN,
  natsServerAvailable,
  startNatsServer,
  type StartNatsServerOptions,
  type TestNatsServer,
} from './nats-server.js';
export {
  REPO_ROOT,
  runHeady,
  ServiceProcess,
  startStack,
  type ServiceName,
  type Stack,
  type StackOptions,
} from './stack.js';
export {
  PG_BIN,
  postgresClusterAvailable,
  startPostgresCluster,
  type TestPostgresCluster,
} from './postgres-cluster.js';
export {
  startFakeModelServer,
  type FakeModelServer,
  type FakeReply,
  type FakeRequest,
} from './fake-model-server.js';
export {
  billingEnvFor,
  parseStripeForm,
  startFakeStripeServer,
  type FakeStripeRequest,
  type FakeStripeServer,
} from './fake-stripe-server.js';
export { eventually, settledUpTo, storedOn, type Stored } from './streams.js';
export { acceptRun } from './runs.js';
