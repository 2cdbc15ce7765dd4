import { type CommonConfig } from '@heady/config';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';

/** An open NATS connection with its JetStream client and manager. */
export interface BusConnection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Connects to NATS (reconnecting forever, named after the instance) and opens JetStream. */
export async function connectBus(
  config: Pick<CommonConfig, 'nats' | 'instanceId'>,
  name = config.instanceId,
): Promise<BusConnection> {
  const nc = await connect({
    servers: config.nats.url.split(','),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc, { timeout: 5_000 }), jsm };
}

/** Drains the connection: pending publishes flush, subscriptions finish, then it closes. */
export async function closeBus(bus: BusConnection): Promise<void> {
  if (bus.nc.isClosed()) return;
  await bus.nc.drain();
}
