import { createApiKey, ensureOrganization, ensureUser, sql } from '@heady/db';
import {
  DeviceApiError,
  DeviceClient,
  SyncIntegrityError,
  decrypt,
  envelopeHash,
} from '@heady/device-client';
import { withSystem } from '@heady/testing/fixtures';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Device sync and privacy through the gateway: gateway → signed request/reply → device-sync
// (its own process) → PostgreSQL; announcements on DEVICE. Two devices of one user talk
// through libs/device-client as a real client would.
describe('device sync and privacy', () => {
  const system = withSystem({
    database: 'heady_e2e_device',
    services: ['device-sync', 'gateway'],
    // each service as its own NATS user: device-sync's permissions come from the catalog
    natsAuth: true,
    client: true,
  });

  interface Org {
    orgId: string;
    /** An organization key (developer) that acts for users with X-Heady-User. */
    orgKey: string;
    /** A member organization key (may not act for users). */
    memberKey: string;
  }
  const orgs = new Map<string, Org>();
  async function org(name: string): Promise<Org> {
    const known = orgs.get(name);
    if (known) return known;
    const o = await ensureOrganization(system.db, name, 'PRO');
    const mk = async (role: 'developer' | 'member') =>
      (await createApiKey(system.db, { orgId: o.id, name: `${name}-${role}`, role })).key;
    const made = { orgId: o.id, orgKey: await mk('developer'), memberKey: await mk('member') };
    orgs.set(name, made);
    return made;
  }
  /** A new user of `orgName` and a member key bound to it. */
  async function user(orgName: string, email: string): Promise<{ id: string; key: string }> {
    const o = await org(orgName);
    const u = await ensureUser(system.db, { orgId: o.orgId, email });
    const key = (
      await createApiKey(system.db, { orgId: o.orgId, name: email, role: 'member', userId: u.id })
    ).key;
    return { id: u.id, key };
  }
  const as = (key: string, userId?: string): { key: string; headers: Record<string, string> } => ({
    key,
    headers: userId ? { 'x-heady-user': userId } : {},
  });

  /** Every message of every stream, as text (to look for plaintext in). */
  async function streamText(): Promise<string> {
    const jsm = await jetstreamManager(system.nc);
    let all = '';
    for await (const s of jsm.streams.list()) {
      const { first_seq, last_seq } = s.state;
      for (let seq = first_seq; seq <= last_seq && last_seq > 0; seq++) {
        const m = await jsm.streams.getMessage(s.config.name, { seq }).catch(() => undefined);
        if (m) all += Buffer.from(m.data).toString('latin1');
      }
    }
    return all;
  }

  async function databaseText(): Promise<string> {
    const tables = [
      'consents',
      'devices',
      'device_sync_blobs',
      'device_key_shares',
      'tracking_events',
      'audit_logs',
    ];
    let all = '';
    for (const t of tables) {
      const r = await sql<{
        t: string;
      }>`SELECT coalesce(string_agg(x::text, '|'), '') AS t FROM ${sql.table(t)} x`.execute(
        system.db,
      );
      all += r.rows[0]?.t ?? '';
    }
    return all;
  }

  async function grantSync(key: string, userId?: string): Promise<void> {
    const r = await system.request('PUT', '/api/consents/DEVICE_SYNC', {
      ...as(key, userId),
      body: { granted: true },
    });
    expect(r.status, r.text).toBe(200);
  }

  function device(key: string, userId: string, actAsUser = false): DeviceClient {
    return DeviceClient.create({ baseUrl: system.gatewayUrl, apiKey: key, actAsUser }, userId);
  }

  it('collects tracking only under a granted TRACKING consent, minimised, and erases it on revocation', async () => {
    const u = await user('acme', 'tracked@acme.test');
    const track = () =>
      system.request('POST', '/api/tracking', {
        key: u.key,
        body: { event: 'screen.view', properties: { screen: 'home', email: 'x@y.z' } },
      });
    const refused = await track();
    expect(refused.status).toBe(403);
    expect(refused.type).toContain('application/problem+json');
    expect(refused.json).toMatchObject({ code: 'CONSENT_REQUIRED', scope: 'TRACKING' });

    const grant = await system.request('PUT', '/api/consents/TRACKING', {
      key: u.key,
      body: { granted: true },
    });
    expect(grant.status, grant.text).toBe(200);
    const ok = await track();
    expect(ok.status, ok.text).toBe(202);
    expect(ok.json.kept).toEqual(['screen']);
    const stored = await sql<{ properties: Record<string, unknown> }>`
      SELECT properties FROM tracking_events WHERE user_id = ${u.id}`.execute(system.db);
    expect(stored.rows.map((r) => r.properties)).toEqual([{ screen: 'home' }]);

    const revoke = await system.request('PUT', '/api/consents/TRACKING', {
      key: u.key,
      body: { granted: false, erase: true },
    });
    expect(revoke.status, revoke.text).toBe(200);
    expect(revoke.json.erased).toBe(1);
    expect((await track()).status).toBe(403);
    const left = await sql<{ n: string }>`
      SELECT count(*) AS n FROM tracking_events WHERE user_id = ${u.id}`.execute(system.db);
    expect(Number(left.rows[0]?.n)).toBe(0);

    const list = await system.request('GET', '/api/consents', { key: u.key });
    expect(list.json.current).toEqual({ TRACKING: false, DEVICE_SYNC: false, VOICE: false });
    const history = list.json.history as { scope: string; grantedAt: string; revokedAt: string }[];
    expect(history).toHaveLength(1);
    expect(history[0]?.grantedAt).toBeTruthy();
    expect(history[0]?.revokedAt).toBeTruthy();
    // every change audited on AUDIT, about the user, without the event's data
    const audit = await streamText();
    expect(audit).toContain('CONSENT_GRANTED');
    expect(audit).toContain('CONSENT_REVOKED');
    expect(audit).toContain(`user:${u.id}`);
  });

  it("acts for users only as the identity model allows and never for another organization's", async () => {
    const acme = await org('acme');
    const globex = await org('globex');
    const u = await user('acme', 'someone@acme.test');
    const other = await user('globex', 'other@globex.test');
    const get = (key: string, userId?: string) =>
      system.request('GET', '/api/consents', as(key, userId));
    expect((await get(acme.orgKey, u.id)).status).toBe(200);
    // another organization's user answers as an unknown one
    const foreign = await get(acme.orgKey, other.id);
    expect(foreign.status).toBe(404);
    expect(foreign.json.code).toBe('USER_NOT_FOUND');
    expect((await get(globex.orgKey, u.id)).status).toBe(404);
    // a member organization key may not act for users; a user-bound key only for its own
    expect((await get(acme.memberKey, u.id)).status).toBe(403);
    expect((await get(u.key, other.id)).status).toBe(403);
    expect((await get(acme.orgKey)).status).toBe(422);
    const scope = await system.request('PUT', '/api/consents/LOCATION', {
      key: u.key,
      body: { granted: true },
    });
    expect(scope.status).toBe(422);
    expect(scope.type).toContain('application/problem+json');
    // devices and consents of another organization's user stay invisible
    await grantSync(other.key);
    await device(other.key, other.id).register('globex phone');
    const seen = await system.request('GET', '/api/devices', as(acme.orgKey, other.id));
    expect(seen.status).toBe(404);
    expect(seen.text).not.toContain('globex phone');
  });

  it('syncs two devices end to end: equal plaintext, none on the server, stale writes, rollback, revocation', async () => {
    const u = await user('acme', 'syncer@acme.test');
    const acme = await org('acme');
    await grantSync(u.key);
    const a = device(u.key, u.id);
    // B uses the organization key acting for the user, and a composite (ML-DSA-65 + Ed25519) key
    const b = DeviceClient.create(
      { baseUrl: system.gatewayUrl, apiKey: acme.orgKey, actAsUser: true },
      u.id,
      'mldsa65-ed25519',
    );
    await a.register('laptop');
    await a.rekey();
    await b.register('phone');
    await a.shareKeys();

    // B listens for announcements
    const events = await fetch(`${system.gatewayUrl}/api/device-sync/events`, {
      headers: {
        authorization: `Bearer ${acme.orgKey}`,
        'x-heady-user': u.id,
        ...b.proofHeaders('GET', '/api/device-sync/events', ''),
      },
    });
    expect(events.status).toBe(200);
    const reader = events.body?.getReader();
    if (!reader) throw new Error('no event stream');

    const secret = 'the launch code is 7-7-alpha-zulu';
    await a.push(new TextEncoder().encode(secret));
    const pulled = await b.pull();
    expect(pulled.map((p) => new TextDecoder().decode(p.data))).toEqual([secret]);

    let sse = '';
    while (!sse.includes('event: blob')) {
      const { value, done } = await reader.read();
      if (done) break;
      sse += new TextDecoder().decode(value as Uint8Array);
    }
    expect(sse).toContain('"seq":1');
    await reader.cancel();

    // the server's database and streams never saw the plaintext
    expect(await databaseText()).not.toContain('launch code');
    expect(await streamText()).not.toContain('launch code');

    // a stale write: A writes seq 2, B (still at 1) tries seq 2 too
    await a.push(new TextEncoder().encode('second'));
    const stale = await b.push(new TextEncoder().encode('from b')).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(DeviceApiError);
    expect((stale as DeviceApiError).status).toBe(409);
    expect((stale as DeviceApiError).problem.head).toMatchObject({ seq: 2 });
    expect((await b.pull()).map((p) => new TextDecoder().decode(p.data))).toEqual(['second']);
    await b.push(new TextEncoder().encode('third from b'));
    expect((await a.pull()).map((p) => new TextDecoder().decode(p.data))).toEqual(['third from b']);

    // a server-side rollback: the head row is removed; A, which saw seq 3, notices
    await sql`DELETE FROM device_sync_blobs WHERE user_id = ${u.id} AND seq = 3`.execute(system.db);
    const rolled = await a.pull().catch((e: unknown) => e);
    expect(rolled).toBeInstanceOf(SyncIntegrityError);
    expect((rolled as SyncIntegrityError).kind).toBe('rollback');
    // ... and a rewritten head (another blob 2 in place of the one seen) is a fork
    await sql`UPDATE device_sync_blobs SET hash = repeat('a', 64) WHERE user_id = ${u.id} AND seq = 2`.execute(
      system.db,
    );
    b.state.head = { seq: 2, hash: envelopeHash(u.id, { ...(await lastEnvelope(u.id, 2)) }) };
    const forked = await b.pull().catch((e: unknown) => e);
    expect((forked as SyncIntegrityError).kind).toBe('fork');

    // revocation: B revokes A and re-keys; A's next push is refused, and A cannot read
    // what B writes afterwards
    const fresh = await user('acme', 'revoker@acme.test');
    await grantSync(fresh.key);
    const x = device(fresh.key, fresh.id);
    const y = device(fresh.key, fresh.id);
    await x.register('x');
    await x.rekey();
    await y.register('y');
    await x.shareKeys();
    await x.push(new TextEncoder().encode('before'));
    expect((await y.pull()).length).toBe(1);
    await y.revoke(x.deviceId);
    const refused = await x.push(new TextEncoder().encode('after')).catch((e: unknown) => e);
    expect((refused as DeviceApiError).status).toBe(401);
    expect((refused as DeviceApiError).problem.reason).toBe('revoked');
    await y.push(new TextEncoder().encode('written after revocation'));
    const after = await lastEnvelope(fresh.id, 2);
    expect(x.state.keyring[after.kid]).toBeUndefined();
    for (const key of Object.values(x.state.keyring))
      expect(() => decrypt(key, after.kid, fresh.id, after.nonce, after.ct)).toThrow();
    const readKeys = await x.refreshKeys().catch((e: unknown) => e);
    expect((readKeys as DeviceApiError).status).toBe(401);
  }, 60_000);

  it('refuses a plaintext blob, a bad signature and a replayed request, storing nothing', async () => {
    const u = await user('acme', 'careful@acme.test');
    await grantSync(u.key);
    const a = device(u.key, u.id);
    await a.register('tablet');
    await a.rekey();
    const count = async () =>
      Number(
        (
          await sql<{
            n: string;
          }>`SELECT count(*) AS n FROM device_sync_blobs WHERE user_id = ${u.id}`.execute(system.db)
        ).rows[0]?.n,
      );
    const post = (
      body: unknown,
      proof = a.proofHeaders('POST', '/api/device-sync', JSON.stringify(body)),
    ) => system.request('POST', '/api/device-sync', { key: u.key, body, headers: proof });

    const plain = await post({ note: 'my diary, in the clear' });
    expect(plain.status).toBe(422);
    expect(plain.json.code).toBe('ENVELOPE_INVALID');
    const unknownAlg = await post({ ...a.seal(new Uint8Array([1, 2, 3])), alg: 'aes-128-ecb' });
    expect(unknownAlg.status).toBe(422);

    const envelope = a.seal(new TextEncoder().encode('signed'));
    const forged = { ...envelope, sig: Buffer.alloc(64, 7).toString('base64') };
    expect((await post(forged)).status).toBe(422);
    const badProof = await post(envelope, {
      ...a.proofHeaders('POST', '/api/device-sync', JSON.stringify(envelope)),
      'x-heady-device-signature': Buffer.alloc(64, 1).toString('base64'),
    });
    expect(badProof.status).toBe(401);
    expect(badProof.json.reason).toBe('bad-signature');
    const noProof = await system.request('POST', '/api/device-sync', {
      key: u.key,
      body: envelope,
    });
    expect(noProof.status).toBe(401);
    expect(await count()).toBe(0);

    const proof = a.proofHeaders('POST', '/api/device-sync', JSON.stringify(envelope));
    expect((await post(envelope, proof)).status).toBe(201);
    const replay = await post(envelope, proof);
    expect(replay.status).toBe(401);
    expect(replay.json.reason).toBe('replayed');
    expect(replay.type).toContain('application/problem+json');
    expect(await count()).toBe(1);
  });

  it('syncs through the heady CLI: register, share, push, pull', async () => {
    const u = await user('acme', 'cli@acme.test');
    await grantSync(u.key);
    const dir = mkdtempSync(join(tmpdir(), 'heady-device-cli-'));
    const env = { HEADY_GATEWAY_URL: system.gatewayUrl, HEADY_API_KEY: u.key };
    const heady = (args: string[]) => system.heady(['device', ...args], env);
    const one = join(dir, 'one.json');
    const two = join(dir, 'two.json');
    const r1 = (await heady(['register', 'one', '--user', u.id, '--file', one])) as {
      keyed: boolean;
    };
    expect(r1.keyed).toBe(true);
    const r2 = (await heady(['register', 'two', '--user', u.id, '--file', two])) as {
      keyed: boolean;
    };
    expect(r2.keyed).toBe(false);
    await heady(['share', '--file', one]);
    const note = join(dir, 'note.txt');
    writeFileSync(note, 'shopping: eggs, flour');
    expect(await heady(['push', note, '--file', one])).toMatchObject({ head: { seq: 1 } });
    const pulled = (await heady(['pull', '--file', two])) as { blobs: { text: string }[] };
    expect(pulled.blobs.map((b) => b.text)).toEqual(['shopping: eggs, flour']);
    expect(statSync(one).mode & 0o777).toBe(0o600);
  }, 60_000);

  async function lastEnvelope(userId: string, seq: number) {
    const r = await sql<{
      version: number;
      algorithm: string;
      key_id: string;
      nonce: string;
      cipher_text: string;
      seq: string;
      prev_hash: string;
      device_id: string;
      signature: string;
    }>`SELECT * FROM device_sync_blobs WHERE user_id = ${userId} AND seq = ${seq}`.execute(
      system.db,
    );
    const row = r.rows[0];
    if (!row) throw new Error(`no blob ${seq}`);
    return {
      v: 1 as const,
      alg: 'xchacha20poly1305' as const,
      kid: row.key_id,
      nonce: row.nonce,
      ct: row.cipher_text,
      seq: Number(row.seq),
      prev: row.prev_hash,
      device: row.device_id,
      sig: row.signature,
    };
  }
});
