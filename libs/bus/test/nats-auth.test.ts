import { RPC_SUBJECTS } from '@heady/contracts';
import { DEFAULT_SUBJECTS } from '@heady/pqc';
import { startNatsServer, type TestNatsServer } from '@heady/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect, nkeys, nkeyAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS, connectBus, ensureStreams, natsPermissions } from '../src/index.js';
import { busConfig } from './harness.js';

/** Connects as `user` of the server (its seed file through the config, as services do). */
async function connectAs(nats: TestNatsServer, user: string): Promise<NatsConnection> {
  const env = nats.env(user);
  const config = busConfig(nats.url, user);
  config.nats.nkeySeedFile = env.HEADY_NATS_NKEY_FILE;
  return (await connectBus(config, { timeoutMs: 2000 })).nc;
}

describe('natsPermissions', () => {
  it("lets a service publish exactly its certificate's subjects plus the JetStream, KV, audit and DLQ subjects", () => {
    const p = natsPermissions('gateway');
    for (const s of DEFAULT_SUBJECTS.gateway ?? []) expect(p.publish.allow).toContain(s);
    expect(p.publish.allow).not.toContain('pipeline.>');
    expect(p.publish.allow).toContain('$JS.API.>');
    expect(p.subscribe.allow).toContain('_INBOX.>');
    expect(natsPermissions('conductor').subscribe.allow).toContain(RPC_SUBJECTS.startRun);
    expect(natsPermissions('gateway').subscribe.allow).not.toContain(RPC_SUBJECTS.startRun);
    expect(natsPermissions('operator').publish.allow).toEqual(['>']);
  });
});

describe('a nats-server with authentication (startNatsServer({ auth: true }))', () => {
  let nats: TestNatsServer;
  let operator: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({ auth: true });
    operator = await connectAs(nats, 'operator');
    await ensureStreams(await jetstreamManager(operator), STREAMS, busConfig(nats.url));
  });

  afterAll(async () => {
    await operator?.close();
    await nats?.stop();
  });

  it('refuses a client without credentials', async () => {
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 2000 })).rejects.toThrow(
      /authorization violation/i,
    );
  });

  it('refuses an nkey it does not know', async () => {
    const stranger = nkeys.createUser().getSeed();
    await expect(
      connect({
        servers: nats.url,
        reconnect: false,
        timeout: 2000,
        authenticator: nkeyAuthenticator(stranger),
      }),
    ).rejects.toThrow(/authorization violation/i);
  });

  it('refuses the gateway user a publish of pipeline.stage.plan, which only the pipeline and conductor may put there', async () => {
    const gateway = await connectAs(nats, 'gateway');
    try {
      await expect(
        jetstream(gateway, { timeout: 2000 }).publish('pipeline.stage.plan', 'forged'),
      ).rejects.toThrow(/permission/i);
      const info = await (await jetstreamManager(operator)).streams.info('PIPELINE');
      expect(info.state.messages).toBe(0);
    } finally {
      await gateway.close();
    }
  });

  it('lets the pipeline user publish pipeline.stage.plan into its stream', async () => {
    const pipeline = await connectAs(nats, 'pipeline');
    try {
      const ack = await jetstream(pipeline, { timeout: 2000 }).publish(
        'pipeline.stage.plan',
        'allowed',
      );
      expect(ack.stream).toBe('PIPELINE');
    } finally {
      await pipeline.close();
    }
  });

  it('refuses the gateway user a subscription to requests addressed to the conductor', async () => {
    const gateway = await connectAs(nats, 'gateway');
    try {
      const sub = gateway.subscribe('conductor.runs.start');
      // the server's refusal ends the subscription with a permissions error
      const closed = sub.closed.then(
        (v) => String(v),
        (e: unknown) => String(e),
      );
      await gateway.flush();
      expect(await closed).toMatch(/permission/i);
    } finally {
      await gateway.close().catch(() => undefined);
    }
  });
});

describe('a nats-server with TLS from devTlsCertificates (startNatsServer({ auth: true, tls: true }))', () => {
  let nats: TestNatsServer;

  beforeAll(async () => {
    nats = await startNatsServer({ auth: true, tls: true });
  });

  afterAll(async () => {
    await nats?.stop();
  });

  it('admits a service that trusts the development CA, through HEADY_NATS_CA_FILE', async () => {
    const env = nats.env('conductor');
    expect(env.HEADY_NATS_CA_FILE).toBeDefined();
    const config = busConfig(nats.url, 'conductor');
    config.nats.nkeySeedFile = env.HEADY_NATS_NKEY_FILE;
    config.nats.caFile = env.HEADY_NATS_CA_FILE;
    const bus = await connectBus(config, { timeoutMs: 2000 });
    try {
      expect(bus.nc.info?.tls_required).toBe(true);
      await bus.nc.flush();
    } finally {
      await bus.nc.close();
    }
  });

  it('refuses a client that does not trust the CA, even with a valid nkey', async () => {
    const { authenticator } = nats.connectOptions('conductor');
    await expect(
      connect({ servers: nats.url, reconnect: false, timeout: 2000, authenticator, tls: {} }),
    ).rejects.toThrow(/certificate/i);
  });
});
