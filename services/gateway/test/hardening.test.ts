import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { createDb } from '@heady/db';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { connect as tcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What the gateway wrote back to a client that sent `partial` and then nothing. */
function sendAndWait(port: number, partial: string, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcp(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, waitMs);
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', () => undefined);
    socket.write(partial);
  });
}

// The gateway as its own process: which port serves what, slow clients, and shutdown order.
describe('gateway hardening: ops port, request timeouts, body limits, shutdown order', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  const prefix = `heady-test:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_hardening');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      env: {
        HEADY_REDIS_PREFIX: prefix,
        HEADY_HTTP_REQUEST_TIMEOUT_MS: '1000',
        // above the 2.5 s RPC wait of the shutdown test, whose socket is silent meanwhile
        HEADY_HTTP_CONNECTION_TIMEOUT_MS: '4000',
        HEADY_RPC_TIMEOUT_MS: '2500',
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await pg?.drop();
    await nats?.stop();
  });

  it('serves /readyz and /metrics on the ops port only; the public port keeps /healthz', async () => {
    const gw = stack.services.gateway;
    expect(gw.opsPort).not.toBe(gw.port);
    expect((await fetch(`${gw.opsUrl}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${gw.opsUrl}/metrics`)).text()).toMatch(/heady_/);
    expect((await fetch(`${gw.opsUrl}/healthz`)).status).toBe(200);
    for (const path of ['/readyz', '/metrics']) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/heady_|checks/);
    }
    const live = await fetch(`${gw.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
  });

  it('answers a client whose request does not arrive within the request timeout with 408 and closes', async () => {
    const started = Date.now();
    const answer = await sendAndWait(
      stack.services.gateway.port,
      'GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n', // the headers never end
      8_000,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toMatch(/application\/problem\+json/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes a connection that never sends a request instead of holding it', async () => {
    const started = Date.now();
    await sendAndWait(stack.services.gateway.port, '', 20_000);
    // by the request or connection timeout (1 s / 4 s here), not Node's 60 s headers timeout
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('refuses a run input over the ingest limit with 413 before a run exists, and every non-JSON body with 415', async () => {
    const post = (body: string, type: string) =>
      fetch(`${stack.gatewayUrl}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': type },
        body,
      });
    // over MAX_RUN_INPUT_BYTES (256 KiB), under the 1 MiB body limit; no conductor runs in
    // this stack, so anything that reached for one would be 503
    const big = await post(
      JSON.stringify({ action: 'analyze', input: { text: 'x'.repeat(300 * 1024) } }),
      'application/json',
    );
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await big.json()).toMatchObject({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      limit: 262_144,
    });
    const db = createDb({ url: pg.url, poolMax: 1 });
    try {
      const runs = await db
        .selectFrom('pipeline_runs')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(runs.n)).toBe(0);
    } finally {
      await db.destroy();
    }
    // just under the limit it goes on to the conductor (absent here: 503)
    const under = await post(
      JSON.stringify({ action: 'analyze', input: { text: 'x'.repeat(200 * 1024) } }),
      'application/json',
    );
    expect(under.status).toBe(503);

    const json = JSON.stringify({ action: 'analyze', input: {} });
    for (const type of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/xml',
      'application/x-www-form-urlencoded',
    ]) {
      const r = await post(json, type);
      expect(r.status, type).toBe(415);
      expect(r.headers.get('content-type'), type).toMatch(/^application\/problem\+json/);
    }
  });

  it('closes HTTP before Redis on SIGTERM: a request in flight still settles its Idempotency-Key', async () => {
    // a vector memory that never answers keeps the insert in flight for HEADY_RPC_TIMEOUT_MS
    const nc = await connect({ servers: nats.url });
    const redis = new Redis();
    try {
      nc.subscribe('memory.vectors.insert');
      await nc.flush();
      const inFlight = fetch(`${stack.gatewayUrl}/api/memory/vectors`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': `shutdown-${randomBytes(4).toString('hex')}`,
        },
        body: JSON.stringify({ items: [{ content: 'held while the gateway stops' }] }),
      });
      // the claim is in Redis while the request waits for its reply
      let claims: string[] = [];
      for (let i = 0; i < 40 && claims.length === 0; i++) {
        claims = await redis.keys(`${prefix}idem:*`);
        if (!claims.length) await new Promise((r) => setTimeout(r, 50));
      }
      expect(claims).toHaveLength(1);
      const stopped = stack.services.gateway.kill('SIGTERM', 30_000);
      const res = await inFlight;
      expect(res.status).toBe(503); // the RPC timed out: a failed request releases its claim
      expect(res.headers.get('connection')).toBe('close');
      const t0 = Date.now();
      await stopped;
      // and then stopped at once, not when the forced exit (15 s) came
      expect(Date.now() - t0).toBeLessThan(5_000);
      // released through a Redis connection that was still open: no claim is left behind
      expect(await redis.keys(`${prefix}idem:*`)).toEqual([]);
    } finally {
      redis.disconnect();
      await nc.close();
    }
  });
});
