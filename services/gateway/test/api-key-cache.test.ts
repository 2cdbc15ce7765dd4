import { type Database, type Kysely, createDb, sql } from '@heady/db';
import {
  type Stack,
  type TestDatabase,
  createTestDatabase,
  startNatsServer,
  startStack,
} from '@heady/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Two gateway replicas caching API key lookups in process; PostgreSQL's NOTIFY (from the
// api_keys and organizations triggers) is what keeps the caches honest.
describe('API key lookup cache', () => {
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let pg: TestDatabase;
  let stack: Stack;
  let db: Kysely<Database>;

  const whoami = async (base: string, key: string) =>
    fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${key}` } });

  /** The replica's lookup counter for `source`, from its /metrics. */
  async function lookups(ops: string, source: 'cache' | 'db'): Promise<number> {
    const text = await (await fetch(`${ops}/metrics`)).text();
    const m = new RegExp(
      `^heady_gateway_api_key_lookups_total\\{[^}]*source="${source}"[^}]*\\} (\\d+)`,
      'm',
    ).exec(text);
    return Number(m?.[1] ?? 0);
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_gw_key_cache');
    stack = await startStack({
      natsUrl: nats.url,
      databaseUrl: pg.url,
      services: ['gateway'],
      gatewayReplicas: 2,
    });
    db = createDb({ url: pg.url, poolMax: 1 });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  it('answers repeated requests from the cache, not PostgreSQL', async () => {
    const base = stack.gateways[0]!.url;
    const ops = stack.gateways[0]!.opsUrl;
    expect((await whoami(base, stack.apiKey)).status).toBe(200);
    const [cache, fromDb] = [await lookups(ops, 'cache'), await lookups(ops, 'db')];
    for (let i = 0; i < 5; i++) expect((await whoami(base, stack.apiKey)).status).toBe(200);
    expect(await lookups(ops, 'cache')).toBe(cache + 5);
    expect(await lookups(ops, 'db')).toBe(fromDb);
  });

  it('refuses a key on every replica as soon as it is revoked, whoever revokes it', async () => {
    for (const g of stack.gateways) expect((await whoami(g.url, stack.apiKey)).status).toBe(200);
    // revoked behind the gateways' backs (as the CLI does): only the trigger tells them
    await sql`UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL`.execute(db);
    // the notification reaches each replica a moment after the commit (ms; under heavy load
    // more): refused within 2 s, where the cached entry would otherwise live for 60 s
    for (const g of stack.gateways) {
      const deadline = Date.now() + 2000;
      let r = await whoami(g.url, stack.apiKey);
      while (r.status === 200 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 20));
        r = await whoami(g.url, stack.apiKey);
      }
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
  });
});
