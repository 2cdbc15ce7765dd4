// pnpm bench:sync — device sync through the real path (HTTP → gateway → signed NATS
// request → device-sync → PostgreSQL): push and pull throughput of 4 KiB blobs and the p99
// of each request, once with device signatures verified (request proofs and blob
// signatures, as in production) and once without (HEADY_DEVICE_VERIFY_SIGNATURES=false,
// a test-only setting), in the same run. Client-side encryption and signing are included
// in both (libs/device-client, as a real device does them).
//   --blobs 1200 --users 8 --size 4096 --page 100
import { parseArgs } from 'node:util';
import { createApiKey, createDb, ensureOrganization, ensureUser, sql } from '@heady/db';
import { DeviceClient } from '@heady/device-client';
import { createTestDatabase, startNatsServer, startStack } from '@heady/testing';
import { randomBytes } from 'node:crypto';

const { values } = parseArgs({
  options: {
    blobs: { type: 'string', default: '1200' },
    users: { type: 'string', default: '8' },
    size: { type: 'string', default: '4096' },
    page: { type: 'string', default: '100' },
  },
});
const BLOBS = Number(values.blobs);
const USERS = Number(values.users);
const SIZE = Number(values.size);
const PAGE = Number(values.page);
const say = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const p99 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
};

async function measure(label, env) {
  const nats = await startNatsServer();
  const pg = await createTestDatabase('heady_bench_sync');
  const stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['device-sync', 'gateway'],
    env: { LOG_LEVEL: 'warn', ...env },
  });
  const db = createDb({ url: pg.url, poolMax: 2 });
  try {
    const org = await ensureOrganization(db, 'bench', 'ENTERPRISE');
    const devices = [];
    for (let i = 0; i < USERS; i++) {
      const u = await ensureUser(db, { orgId: org.id, email: `bench${i}@sync.test` });
      const { key } = await createApiKey(db, {
        orgId: org.id,
        name: `u${i}`,
        role: 'member',
        userId: u.id,
      });
      const put = await fetch(`${stack.gatewayUrl}/api/consents/DEVICE_SYNC`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ granted: true }),
      });
      if (!put.ok) throw new Error(`consent: ${put.status} ${await put.text()}`);
      const d = DeviceClient.create({ baseUrl: stack.gatewayUrl, apiKey: key }, u.id);
      await d.register(`bench ${i}`);
      await d.rekey();
      devices.push({ d, key });
    }
    const per = Math.ceil(BLOBS / USERS);
    const pushLat = [];
    let t = performance.now();
    // one writer per user (a user's log is a chain), the users in parallel
    await Promise.all(
      devices.map(async ({ d }) => {
        for (let i = 0; i < per; i++) {
          const s = performance.now();
          await d.push(randomBytes(SIZE));
          pushLat.push(performance.now() - s);
        }
      }),
    );
    const pushS = (performance.now() - t) / 1000;
    const pullLat = [];
    let pulled = 0;
    t = performance.now();
    await Promise.all(
      devices.map(async ({ d, key }) => {
        // the same device reading its log from the start
        const reader = new DeviceClient(
          { baseUrl: stack.gatewayUrl, apiKey: key },
          { ...d.state, head: { seq: 0, hash: '0'.repeat(64) } },
        );
        const list = await reader.devices();
        // page by page, timing each signed request (chain checks and decryption included)
        for (;;) {
          const s = performance.now();
          const { blobs, more } = await reader.pullPage(PAGE, list);
          pullLat.push(performance.now() - s);
          pulled += blobs.length;
          if (!more) break;
        }
      }),
    );
    const pullS = (performance.now() - t) / 1000;
    const stored = /** @type {{ rows: { n: number }[] }} */ (
      await sql`SELECT count(*)::int AS n FROM device_sync_blobs`.execute(db)
    );
    say(
      `${label}: push ${fmt((per * USERS) / pushS)} blobs/s (p99 ${fmt(p99(pushLat), 1)} ms/blob), ` +
        `pull ${fmt(pulled / pullS)} blobs/s (p99 ${fmt(p99(pullLat), 1)} ms per pull of ≤${PAGE}); ` +
        `${stored.rows[0]?.n ?? 0} blobs stored`,
    );
  } finally {
    await db.destroy();
    await stack.stop();
    await pg.drop();
    await nats.stop();
  }
}

say(
  `device sync: ${fmt(BLOBS)} blobs of ${fmt(SIZE)} B, ${USERS} users in parallel (one device each), pages of ${PAGE}`,
);
await measure('signatures verified  ', {});
await measure('signatures unverified', { HEADY_DEVICE_VERIFY_SIGNATURES: 'false' });
