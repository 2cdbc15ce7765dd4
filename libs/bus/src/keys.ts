import {
  type Certificate,
  type KeyResolver,
  type Revocation,
  type RotationRequest,
  unb64,
  verifyRotationRequest,
  verifyCertificate,
  verifyRevocation,
} from '@heady/pqc';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection } from '@nats-io/transport-node';

const decoder = new TextDecoder();

/**
 * The public key registry in the `heady-keys` KV bucket: `identity.<service>`,
 * `epoch.<kid>` and `revoked.<kid>`. Certificates are kept after their keys retire, so
 * messages still in the streams stay verifiable. Lookups are cached: an epoch
 * certificate never changes, identities are re-read after 30 s, revocations after 5 s.
 */
export class KvKeyRegistry implements KeyResolver {
  private readonly epochs = new Map<string, Certificate>();
  private readonly identities = new Map<string, { cert: Certificate | undefined; until: number }>();
  private readonly revocations = new Map<string, { revoked: boolean; until: number }>();
  private readonly kems = new Map<string, Certificate>();

  private constructor(
    private readonly kv: KV,
    private readonly sigs: KV,
    private readonly rootPublicKey: Uint8Array,
  ) {}

  /**
   * Opens `heady-keys` and `heady-sigs` (batch signatures, kept `signatureTtlMs` — as long
   * as the streams keep the messages they cover; default 7 days).
   */
  static async open(
    nc: NatsConnection,
    rootPublicKey: Uint8Array,
    opts: { signatureTtlMs?: number } = {},
  ): Promise<KvKeyRegistry> {
    const kvm = new Kvm(nc);
    const keys = await kvm.create('heady-keys', { history: 5 });
    const sigs = await kvm.create('heady-sigs', {
      history: 1,
      ttl: opts.signatureTtlMs ?? 7 * 86_400_000,
    });
    return new KvKeyRegistry(keys, sigs, rootPublicKey);
  }

  private static sigKey(kid: string, root: Uint8Array): string {
    return `${kid}.${Buffer.from(root).toString('hex')}`;
  }

  /** Stores a batch's signature once under (kid, root). */
  async putSignature(kid: string, root: Uint8Array, signature: Uint8Array): Promise<void> {
    await this.sigs.put(KvKeyRegistry.sigKey(kid, root), signature);
  }

  /** The batch signature published under (kid, root), if any. */
  async signature(kid: string, root: Uint8Array): Promise<Uint8Array | undefined> {
    if (!/^[0-9a-f]{32}$/.test(kid) || root.length !== 64) return undefined;
    const e = await this.sigs.get(KvKeyRegistry.sigKey(kid, root));
    return e && e.operation === 'PUT' && e.value.length ? e.value : undefined;
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT' || !e.value.length) return undefined;
    return JSON.parse(decoder.decode(e.value)) as T;
  }

  async epoch(kid: string): Promise<Certificate | undefined> {
    if (!/^[0-9a-f]{32}$/.test(kid)) return undefined;
    const hit = this.epochs.get(kid);
    if (hit) return hit;
    const cert = await this.getJson<Certificate>(`epoch.${kid}`);
    if (cert) this.epochs.set(kid, cert);
    return cert;
  }

  async identity(service: string): Promise<Certificate | undefined> {
    const now = Date.now();
    const hit = this.identities.get(service);
    if (hit && hit.until > now) return hit.cert;
    const cert = /^[a-z0-9-]+$/.test(service)
      ? await this.getJson<Certificate>(`identity.${service}`)
      : undefined;
    this.identities.set(service, { cert, until: now + 30_000 });
    return cert;
  }

  async revoked(kid: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.revocations.get(kid);
    if (hit && hit.until > now) return hit.revoked;
    const r = /^[0-9a-f]{32}$/.test(kid)
      ? await this.getJson<Revocation>(`revoked.${kid}`)
      : undefined;
    // only a root-signed record counts: anyone with KV write access cannot revoke by writing junk
    const revoked = !!r && r.kid === kid && verifyRevocation(r, this.rootPublicKey);
    this.revocations.set(kid, { revoked, until: now + 5_000 });
    return revoked;
  }

  async putIdentity(cert: Certificate): Promise<void> {
    await this.kv.put(`identity.${cert.service}`, JSON.stringify(cert));
  }

  async putEpoch(cert: Certificate): Promise<void> {
    await this.kv.put(`epoch.${cert.kid}`, JSON.stringify(cert));
  }

  /** Publishes a service's epoch KEM key certificate as `kem.<service>.<epoch>`. */
  async putKem(cert: Certificate): Promise<void> {
    await this.kv.put(`kem.${cert.service}.${cert.instance}`, JSON.stringify(cert));
  }

  /**
   * The KEM public key of `service` for `epoch`, only if its certificate is signed by the
   * service's root-certified identity and valid at `now`.
   */
  async kem(
    service: string,
    epoch: number,
    now = Date.now(),
  ): Promise<{ keyRef: string; publicKey: Uint8Array } | undefined> {
    if (!/^[a-z0-9-]+$/.test(service) || !Number.isSafeInteger(epoch) || epoch < 0)
      return undefined;
    const key = `kem.${service}.${epoch}`;
    let hit = this.kems.get(key);
    if (!hit) {
      const cert = await this.getJson<Certificate>(key);
      const identity = await this.identity(service);
      if (
        !cert ||
        !identity ||
        cert.kind !== 'kem' ||
        cert.service !== service ||
        cert.instance !== String(epoch) ||
        identity.kind !== 'identity' ||
        !verifyCertificate(identity, this.rootPublicKey) ||
        !verifyCertificate(cert, unb64(identity.publicKey))
      )
        return undefined;
      hit = cert;
      this.kems.set(key, cert);
    }
    if (now < hit.notBefore || now > hit.notAfter) return undefined;
    if (await this.revoked(hit.kid)) return undefined;
    return { keyRef: `${service}.${epoch}`, publicKey: unb64(hit.publicKey) };
  }

  /** Asks the running instances of `r.service` (or `all`) to rotate their epoch keys. */
  async putRotation(r: RotationRequest): Promise<void> {
    await this.kv.put(`rotate.${r.service}`, JSON.stringify(r));
  }

  /**
   * Calls `onRequest` for every root-signed rotation request for `service` (or `all`) made
   * after `since`; unsigned or forged requests are ignored. Returns a stop function.
   */
  async watchRotations(
    service: string,
    since: number,
    onRequest: (r: RotationRequest) => void,
  ): Promise<() => void> {
    const watch = await this.kv.watch({ key: 'rotate.*' });
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT' || !e.value.length) continue;
        let r: RotationRequest;
        try {
          r = JSON.parse(decoder.decode(e.value)) as RotationRequest;
        } catch {
          continue;
        }
        if (
          (r.service === service || r.service === 'all') &&
          e.key === `rotate.${r.service}` &&
          r.requestedAt > since &&
          verifyRotationRequest(r, this.rootPublicKey)
        )
          onRequest(r);
      }
    })();
    return () => watch.stop();
  }

  async putRevocation(r: Revocation): Promise<void> {
    await this.kv.put(`revoked.${r.kid}`, JSON.stringify(r));
  }

  /** Every certificate and revocation in the registry. */
  async list(): Promise<{ key: string; value: Certificate | Revocation }[]> {
    const out: { key: string; value: Certificate | Revocation }[] = [];
    for await (const key of await this.kv.keys()) {
      const v = await this.getJson<Certificate | Revocation>(key);
      if (v) out.push({ key, value: v });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }
}
