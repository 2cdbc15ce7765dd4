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

/** Options of {@link connectBus}. */
export interface ConnectBusOptions {
  /** Connection name shown by the server (`nats server report connections`); default the instance id. */
  name?: string;
  /** How long a JetStream API call or publish waits for the server (default 5 s). */
  timeoutMs?: number;
}

/**
 * Connects to NATS and opens JetStream. On the wire: one client connection named after
 * the instance (or `opts.name`), to any of the comma-separated `nats.url` servers; it waits
 * for the first server to come up and then reconnects forever (every 250 ms), resending
 * subscriptions, so consumers resume after a server restart.
 * A string second argument is the connection name (older form).
 */
export async function connectBus(
  config: Pick<CommonConfig, 'nats' | 'instanceId'>,
  opts: ConnectBusOptions | string = {},
): Promise<BusConnection> {
  const o = typeof opts === 'string' ? { name: opts } : opts;
  const nc = await connect({
    servers: config.nats.url.split(','),
    name: o.name ?? config.instanceId,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  const timeout = o.timeoutMs ?? 5_000;
  const jsm = await jetstreamManager(nc, { timeout });
  return { nc, js: jetstream(nc, { timeout }), jsm };
}

/** Drains the connection: subscriptions stop, pending publishes flush, then it closes. No-op when closed. */
export async function closeBus(bus: Pick<BusConnection, 'nc'>): Promise<void> {
  if (bus.nc.isClosed()) return;
  await bus.nc.drain();
}
