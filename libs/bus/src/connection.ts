import { type CommonConfig } from '@heady/config';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { readFileSync } from 'node:fs';
import { type NatsConnection, connect, nkeyAuthenticator } from '@nats-io/transport-node';

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
 * subscriptions, so consumers resume after a server restart. With `nats.nkeySeedFile` it
 * authenticates as that nkey user (the seed signs the server's nonce; it is read once, here),
 * and with `nats.caFile` it requires TLS and a server certificate chaining to that CA.
 * A string second argument is the connection name (older form).
 */
export async function connectBus(
  config: Pick<CommonConfig, 'nats' | 'instanceId'>,
  opts: ConnectBusOptions | string = {},
): Promise<BusConnection> {
  const o = typeof opts === 'string' ? { name: opts } : opts;
  const { nkeySeedFile, caFile } = config.nats;
  const nc = await connect({
    servers: config.nats.url.split(','),
    ...(nkeySeedFile
      ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(readSeed(nkeySeedFile))) }
      : {}),
    ...(caFile ? { tls: { caFile } } : {}),
    name: o.name ?? config.instanceId,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  const timeout = o.timeoutMs ?? 5_000;
  const jsm = await jetstreamManager(nc, { timeout });
  return { nc, js: jetstream(nc, { timeout }), jsm };
}

function readSeed(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(
      `cannot read the NATS nkey seed file ${file} (HEADY_NATS_NKEY_FILE): ${(e as Error).message}`,
    );
  }
}

/** Drains the connection: subscriptions stop, pending publishes flush, then it closes. No-op when closed. */
export async function closeBus(bus: Pick<BusConnection, 'nc'>): Promise<void> {
  if (bus.nc.isClosed()) return;
  await bus.nc.drain();
}
