import {
  type DeviceRecord,
  type KeySharesReply,
  type ListBlobsReply,
  SYNC_ENVELOPE_VERSION,
  type SyncEnvelope,
  type SyncHead,
} from '@heady/contracts';
import { randomBytes } from '@noble/hashes/utils.js';
import { EMPTY_HEAD, verifyPage } from './chain.js';
import {
  type DeviceKeys,
  decrypt,
  encrypt,
  generateDeviceKeys,
  newContentKey,
  openContentKey,
  publicKeyOf,
  sealContentKey,
} from './keys.js';
import {
  ProofHeader,
  b64,
  bodyDigest,
  deviceSign,
  deviceVerify,
  envelopeHash,
  envelopeMessage,
  keyShareMessage,
  proofMessage,
  unb64,
} from './wire.js';

/** A non-2xx answer of the gateway: its status and problem+json body. */
export class DeviceApiError extends Error {
  override readonly name = 'DeviceApiError';
  constructor(
    readonly status: number,
    readonly problem: Record<string, unknown>,
  ) {
    const detail = typeof problem.detail === 'string' ? problem.detail : 'error';
    super(`HTTP ${status}: ${detail}`);
  }
}

/** A blob this device could read. */
export interface PulledBlob {
  seq: number;
  device: string;
  kid: string;
  data: Uint8Array;
}

/** Everything a device keeps between runs (the CLI writes it to a git-ignored file). */
export interface DeviceState {
  userId: string;
  deviceId: string | undefined;
  keys: DeviceKeys;
  /** Content keys this device holds, by id, oldest first. */
  keyring: Record<string, Uint8Array>;
  /** The key new blobs are written under. */
  currentKid: string | undefined;
  /** The last head this device verified (rollback detection starts from it). */
  head: SyncHead;
}

/** How a {@link DeviceClient} reaches the gateway. */
export interface DeviceClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Sent as `X-Heady-User` (an organization key acting for a user); omit with a user-bound key. */
  actAsUser?: boolean;
  /** Check devices' signatures on pulled blobs (default true). */
  verifySignatures?: boolean;
}

/**
 * The client side of device sync: this device's keys, a per-user content key shared to each
 * device by key agreement (ML-KEM-768 + X25519 sealing of libs/pqc), XChaCha20-Poly1305
 * encryption, device-signed requests and blobs, hash-chain verification of every page it
 * pulls, and re-keying when a device is revoked.
 */
export class DeviceClient {
  constructor(
    private readonly opts: DeviceClientOptions,
    readonly state: DeviceState,
  ) {}

  /** A new device of `userId` (keys generated here, not yet registered). */
  static create(
    opts: DeviceClientOptions,
    userId: string,
    alg: DeviceKeys['alg'] = 'ed25519',
  ): DeviceClient {
    return new DeviceClient(opts, {
      userId,
      deviceId: undefined,
      keys: generateDeviceKeys(alg),
      keyring: {},
      currentKid: undefined,
      head: EMPTY_HEAD,
    });
  }

  get deviceId(): string {
    if (!this.state.deviceId) throw new Error('this device is not registered yet');
    return this.state.deviceId;
  }

  private baseHeaders(): Record<string, string> {
    return {
      authorization: `Bearer ${this.opts.apiKey}`,
      ...(this.opts.actAsUser ? { 'x-heady-user': this.state.userId } : {}),
    };
  }

  /** One request to the gateway, signed by this device when `signed`. */
  async request<T>(method: string, path: string, body?: unknown, signed = true): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = this.baseHeaders();
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (signed) Object.assign(headers, this.proofHeaders(method, path, text));
    const res = await fetch(`${this.opts.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: text }),
    });
    const answer = res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
    if (!res.ok) throw new DeviceApiError(res.status, answer);
    return answer as T;
  }

  /** The proof-of-possession headers for one request (a fresh nonce each time). */
  proofHeaders(method: string, path: string, body: string): Record<string, string> {
    const p = {
      deviceId: this.deviceId,
      method: method as 'GET',
      path,
      bodyDigest: bodyDigest(body),
      timestamp: Date.now(),
      nonce: Buffer.from(randomBytes(18)).toString('base64url'),
    };
    const sig = deviceSign(this.state.keys.alg, this.state.keys.signSecret, proofMessage(p));
    return {
      [ProofHeader.Device]: p.deviceId,
      [ProofHeader.Timestamp]: String(p.timestamp),
      [ProofHeader.Nonce]: p.nonce,
      [ProofHeader.Signature]: b64(sig),
    };
  }

  /** Registers this device under `name` (`POST /api/devices`, with the API key alone). */
  async register(name: string): Promise<DeviceRecord> {
    const d = await this.request<DeviceRecord>(
      'POST',
      '/api/devices',
      { name, publicKey: publicKeyOf(this.state.keys) },
      false,
    );
    this.state.deviceId = d.id;
    return d;
  }

  /** The user's devices, revoked ones included. */
  async devices(): Promise<DeviceRecord[]> {
    return (
      await this.request<{ devices: DeviceRecord[] }>('GET', '/api/devices', undefined, false)
    ).devices;
  }

  /**
   * Fetches the content keys sealed to this device and keeps those whose sharer's signature
   * verifies (a share the server made up is dropped).
   */
  async refreshKeys(devices?: DeviceRecord[]): Promise<void> {
    const list = devices ?? (await this.devices());
    const byId = new Map(list.map((d) => [d.id, d]));
    const { shares } = await this.request<KeySharesReply>('GET', '/api/device-sync/keys');
    for (const s of shares) {
      if (this.state.keyring[s.kid]) continue;
      const from = byId.get(s.fromDevice);
      if (!from) continue;
      const msg = keyShareMessage(this.state.userId, s.kid, s.fromDevice, s.deviceId, s.sealed);
      if (!deviceVerify(from.publicKey, msg, unb64(s.sig))) continue;
      this.state.keyring[s.kid] = openContentKey(
        s.sealed,
        s.kid,
        this.state.userId,
        this.deviceId,
        this.state.keys.kemSecret,
      );
      this.state.currentKid = s.kid;
    }
  }

  /** Seals every key of this device's keyring to each active device of the user. */
  async shareKeys(devices?: DeviceRecord[]): Promise<number> {
    const active = (devices ?? (await this.devices())).filter((d) => d.revokedAt === null);
    let stored = 0;
    for (const [kid, key] of Object.entries(this.state.keyring)) {
      const shares = active.map((d) => {
        const sealed = sealContentKey(key, kid, this.state.userId, {
          deviceId: d.id,
          kem: d.publicKey.kem,
        });
        const msg = keyShareMessage(this.state.userId, kid, this.deviceId, d.id, sealed);
        return {
          deviceId: d.id,
          sealed,
          sig: b64(deviceSign(this.state.keys.alg, this.state.keys.signSecret, msg)),
        };
      });
      if (!shares.length) continue;
      stored += (
        await this.request<{ stored: number }>('POST', '/api/device-sync/keys', { kid, shares })
      ).stored;
    }
    return stored;
  }

  /**
   * Makes a new content key, shares it to the active devices and writes under it from now
   * on: a device revoked before this cannot read what is written after (old keys stay, so
   * older blobs remain readable to the devices that have them).
   */
  async rekey(): Promise<string> {
    const { kid, key } = newContentKey();
    this.state.keyring[kid] = key;
    this.state.currentKid = kid;
    await this.shareKeys();
    return kid;
  }

  /** Revokes device `id` (its requests are refused from then on), then re-keys. */
  async revoke(id: string): Promise<DeviceRecord> {
    const d = await this.request<DeviceRecord>('DELETE', `/api/devices/${id}`, undefined, false);
    await this.rekey();
    return d;
  }

  /** The envelope of `data` as the next blob after `head`, encrypted and signed by this device. */
  seal(data: Uint8Array, head: SyncHead = this.state.head): SyncEnvelope {
    const kid = this.state.currentKid;
    const key = kid ? this.state.keyring[kid] : undefined;
    if (!kid || !key) throw new Error('no content key: refreshKeys() or rekey() first');
    const { nonce, ct } = encrypt(key, kid, this.state.userId, data);
    const unsigned = {
      v: SYNC_ENVELOPE_VERSION as typeof SYNC_ENVELOPE_VERSION,
      alg: 'xchacha20poly1305' as const,
      kid,
      nonce,
      ct,
      seq: head.seq + 1,
      prev: head.hash,
      device: this.deviceId,
    };
    const sig = deviceSign(
      this.state.keys.alg,
      this.state.keys.signSecret,
      envelopeMessage(this.state.userId, unsigned),
    );
    return { ...unsigned, sig: b64(sig) };
  }

  /**
   * Appends `data` after the head this device last verified. A server whose head moved on
   * answers 409 (a {@link DeviceApiError} whose problem carries `head`): pull, then push again.
   */
  async push(data: Uint8Array): Promise<SyncHead> {
    const envelope = this.seal(data);
    await this.request('POST', '/api/device-sync', envelope);
    this.state.head = { seq: envelope.seq, hash: envelopeHash(this.state.userId, envelope) };
    return this.state.head;
  }

  /**
   * Pulls every blob after the head this device verified, checks the chain page by page
   * ({@link verifyPage}: rollback, fork, gap, tampering, forged or post-revocation
   * signatures) and decrypts what it can.
   * @throws SyncIntegrityError when the server's log contradicts what was seen or signed.
   */
  async pull(limit = 100): Promise<PulledBlob[]> {
    const devices = await this.devices();
    const out: PulledBlob[] = [];
    for (;;) {
      const { blobs, more } = await this.pullPage(limit, devices);
      out.push(...blobs);
      if (!more) return out;
    }
  }

  /**
   * One page of {@link pull}: up to `limit` blobs after the verified head, checked and
   * decrypted; `more` when the server's head is further on.
   */
  async pullPage(
    limit: number,
    devices?: DeviceRecord[],
  ): Promise<{ blobs: PulledBlob[]; more: boolean }> {
    const list = devices ?? (await this.devices());
    const page = await this.request<ListBlobsReply>(
      'GET',
      `/api/device-sync?after=${this.state.head.seq}&limit=${limit}`,
    );
    const head = verifyPage(
      this.state.userId,
      this.state.head,
      page,
      list,
      this.opts.verifySignatures ?? true,
    );
    const blobs: PulledBlob[] = [];
    for (const b of page.blobs) blobs.push({ ...b, data: await this.open(b, list) });
    this.state.head = head;
    return { blobs, more: page.blobs.length > 0 && head.seq < page.head.seq };
  }

  private async open(
    b: { kid: string; nonce: string; ct: string; seq: number },
    devices: DeviceRecord[],
  ): Promise<Uint8Array> {
    if (!this.state.keyring[b.kid]) await this.refreshKeys(devices);
    const key = this.state.keyring[b.kid];
    if (!key)
      throw new Error(`blob ${b.seq} is under key ${b.kid}, which this device does not hold`);
    return decrypt(key, b.kid, this.state.userId, b.nonce, b.ct);
  }
}
