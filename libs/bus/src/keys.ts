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
import { STREAM_SUBJECTS, revocationSubject } from '@heady/contracts';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection } from '@nats-io/transport-node';

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const KID = /^[0-9a-f]{32}$/;
const SERVICE = /^[a-z0-9-]+$/;

/** The append-only stream of root-signed revocations (`STREAM_SUBJECTS.revocations`, one subject per kid). */
export const REVOCATION_STREAM = 'KEY_REVOCATIONS';
/** Entries read per kid before a flood of junk counts as "revoked" (fail closed). */
const MAX_REVOCATION_ENTRIES = 1_000;

/**
 * The public key registry: the `heady-keys` KV bucket (`identity.<service>` — the current
 * identity —, `identity.<service>.<kid>` — every identity ever published —, `epoch.<kid>`,
 * `kem.<service>.<epoch>`, `rotate.<service>`) and the `KEY_REVOCATIONS` stream.
 *
 * The bucket is a cache of signed facts, never a source of trust: anyone who can write it
 * can plant or delete entries, so every certificate read from it is verified up to the root
 * (an identity by the root and under the service name it is stored as, an epoch or KEM
 * certificate by that service's identity) before it is returned or cached; what fails is
 * treated as absent. Identities are also kept under their kid, so re-issuing a service's
 * identity leaves the epoch keys the previous one certified — and the messages they signed,
 * still in the streams — verifiable (revoke the old identity's kid to end that).
 *
 * Revocations are signed, append-only facts. They are published to `KEY_REVOCATIONS`, a
 * stream that denies deleting and purging messages, and a kid counts as revoked when any
 * root-signed revocation of it was ever published — the stream's whole history for the
 * kid's subject ({@link revocationSubject}) is read, plus every retained revision of the
 * legacy KV entry `revoked.<kid>` — so overwriting or deleting an entry does not un-revoke
 * a key. A revocation, once seen, is remembered for the life of the process. Reading fails
 * closed: a missing stream throws (the verifier then refuses to decide) and a subject
 * flooded with more than 1 000 entries counts as revoked. Unsigned "revocations" are ignored.
 */
export class KvKeyRegistry implements KeyResolver {
  private readonly epochs = new Map<string, Certificate>();
  private readonly identities = new Map<string, { cert: Certificate | undefined; until: number }>();
  private readonly identitiesByKid = new Map<string, Certificate>();
  private readonly revokedKids = new Set<string>();
  private readonly notRevoked = new Map<string, number>();
  private readonly kems = new Map<string, Certificate>();

  private constructor(
    private readonly kv: KV,
    private readonly sigs: KV,
    private readonly jsm: JetStreamManager,
    private readonly rootPublicKey: Uint8Array,
  ) {}

  /**
   * Opens `heady-keys`, `heady-sigs` (batch signatures, kept `signatureTtlMs` — as long
   * as the streams keep the messages they cover; default 7 days) and `KEY_REVOCATIONS`.
   */
  static async open(
    nc: NatsConnection,
    rootPublicKey: Uint8Array,
    opts: { signatureTtlMs?: number; replicas?: number } = {},
  ): Promise<KvKeyRegistry> {
    const kvm = new Kvm(nc);
    const replicas = opts.replicas ?? 1;
    const keys = await kvm.create('heady-keys', { history: 5, replicas });
    const sigs = await kvm.create('heady-sigs', {
      history: 1,
      ttl: opts.signatureTtlMs ?? 7 * 86_400_000,
      replicas,
    });
    const jsm = await jetstreamManager(nc);
    const exists = await jsm.streams.info(REVOCATION_STREAM).then(
      () => true,
      () => false,
    );
    if (!exists)
      await jsm.streams.add({
        name: REVOCATION_STREAM,
        subjects: [STREAM_SUBJECTS.revocations],
        // append-only: no message is ever removed, by age, count, delete or purge
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        num_replicas: replicas,
      });
    return new KvKeyRegistry(keys, sigs, jsm, rootPublicKey);
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

  private static parse<T>(bytes: Uint8Array): T | undefined {
    try {
      return JSON.parse(decoder.decode(bytes)) as T;
    } catch {
      return undefined; // junk planted in the bucket is absent, not an error
    }
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT' || !e.value.length) return undefined;
    return KvKeyRegistry.parse<T>(e.value);
  }

  /** Every retained PUT revision of `key`, oldest first. */
  private async history<T>(key: string): Promise<T[]> {
    const out: T[] = [];
    const it = await this.kv.history({ key });
    for await (const e of it) {
      if (e.operation === 'PUT' && e.value.length) {
        const v = KvKeyRegistry.parse<T>(e.value);
        if (v) out.push(v);
      }
    }
    return out;
  }

  private isIdentityOf(c: Certificate | undefined, service: string, kid?: string): boolean {
    return (
      !!c &&
      (c.kind === 'identity' || c.kind === 'operator') &&
      c.service === service &&
      (kid === undefined || c.kid === kid) &&
      verifyCertificate(c, this.rootPublicKey)
    );
  }

  /** The epoch certificate of `kid`, only when its service's identity (verified by the root) signed it. */
  async epoch(kid: string): Promise<Certificate | undefined> {
    if (!KID.test(kid)) return undefined;
    const hit = this.epochs.get(kid);
    if (hit) return hit;
    const cert = await this.getJson<Certificate>(`epoch.${kid}`);
    if (!cert || cert.kind !== 'epoch' || cert.kid !== kid || !SERVICE.test(cert.service ?? ''))
      return undefined;
    const identity = await this.identity(cert.service, cert.issuer);
    if (!identity || !verifyCertificate(cert, unb64(identity.publicKey))) return undefined;
    this.epochs.set(kid, cert);
    return cert;
  }

  /**
   * The identity certificate of `service`, verified by the root and issued under that
   * service name: the current one (re-read after 30 s), or with `kid` the one with that kid,
   * current or previous (re-issuing an identity keeps what the old one certified verifiable).
   */
  async identity(service: string, kid?: string): Promise<Certificate | undefined> {
    if (!SERVICE.test(service)) return undefined;
    if (kid !== undefined) {
      if (!KID.test(kid)) return undefined;
      const known = this.identitiesByKid.get(kid);
      if (known) return known.service === service ? known : undefined;
      const candidates = [
        await this.getJson<Certificate>(`identity.${service}.${kid}`),
        await this.getJson<Certificate>(`identity.${service}`),
        ...(await this.history<Certificate>(`identity.${service}`)).reverse(),
      ];
      const found = candidates.find((c) => this.isIdentityOf(c, service, kid));
      if (found) this.identitiesByKid.set(kid, found);
      return found;
    }
    const now = Date.now();
    const hit = this.identities.get(service);
    if (hit && hit.until > now) return hit.cert;
    const read = await this.getJson<Certificate>(`identity.${service}`);
    const cert = read && this.isIdentityOf(read, service) ? read : undefined;
    if (cert) this.identitiesByKid.set(cert.kid, cert);
    this.identities.set(service, { cert, until: now + 30_000 });
    return cert;
  }

  /**
   * True when a root-signed revocation of `kid` was ever published (see the class comment:
   * absence from the bucket does not mean "not revoked"). "Not revoked" is re-checked after 5 s;
   * "revoked" is final.
   */
  async revoked(kid: string): Promise<boolean> {
    if (this.revokedKids.has(kid)) return true;
    if (!KID.test(kid)) return false;
    const now = Date.now();
    if ((this.notRevoked.get(kid) ?? 0) > now) return false;
    const valid = (r: Revocation | undefined): boolean =>
      !!r && r.kid === kid && verifyRevocation(r, this.rootPublicKey);
    let revoked = false;
    let seq = 1;
    for (let n = 0; !revoked; n++) {
      if (n >= MAX_REVOCATION_ENTRIES) {
        revoked = true;
        break;
      }
      const m = await this.jsm.direct.getMessage(REVOCATION_STREAM, {
        seq,
        next_by_subj: revocationSubject(kid),
      });
      if (!m) break;
      revoked = valid(KvKeyRegistry.parse<Revocation>(m.data));
      seq = m.seq + 1;
    }
    if (!revoked) revoked = (await this.history<Revocation>(`revoked.${kid}`)).some(valid);
    if (revoked) {
      this.revokedKids.add(kid);
      this.notRevoked.delete(kid);
    } else this.notRevoked.set(kid, now + 5_000);
    return revoked;
  }

  /** Publishes `cert` as the current identity of its service, and under its kid for good. */
  async putIdentity(cert: Certificate): Promise<void> {
    await this.kv.put(`identity.${cert.service}.${cert.kid}`, JSON.stringify(cert));
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
      const identity = cert && (await this.identity(service, cert.issuer));
      if (
        !cert ||
        !identity ||
        cert.kind !== 'kem' ||
        cert.service !== service ||
        cert.instance !== String(epoch) ||
        identity.kind !== 'identity' ||
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

  /**
   * Appends a revocation to `KEY_REVOCATIONS` (where it stays) and mirrors it in the bucket
   * as `revoked.<kid>` for listing.
   */
  async putRevocation(r: Revocation): Promise<void> {
    if (!KID.test(r.kid)) throw new Error(`not a key id: ${r.kid}`);
    await this.jsm.jetstream().publish(revocationSubject(r.kid), encoder.encode(JSON.stringify(r)));
    await this.kv.put(`revoked.${r.kid}`, JSON.stringify(r));
  }

  /**
   * Every entry of the bucket, each with whether it verifies up to the root (`trusted`);
   * an untrusted entry is shown so operators see what was planted, and ignored by verifiers.
   */
  async list(): Promise<
    { key: string; value: Certificate | Revocation | RotationRequest; trusted: boolean }[]
  > {
    const out: {
      key: string;
      value: Certificate | Revocation | RotationRequest;
      trusted: boolean;
    }[] = [];
    for await (const key of await this.kv.keys()) {
      const v = await this.getJson<Certificate | Revocation | RotationRequest>(key);
      if (v) out.push({ key, value: v, trusted: await this.trusted(key, v) });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  private async trusted(
    key: string,
    v: Certificate | Revocation | RotationRequest,
  ): Promise<boolean> {
    const [kind, a = '', b] = key.split('.');
    try {
      if (kind === 'revoked') return verifyRevocation(v as Revocation, this.rootPublicKey);
      if (kind === 'rotate') return verifyRotationRequest(v as RotationRequest, this.rootPublicKey);
      const c = v as Certificate;
      if (kind === 'identity') return this.isIdentityOf(c, a, b);
      if (kind === 'epoch') return (await this.epoch(a))?.signature === c.signature;
      if (kind === 'kem') {
        const identity = await this.identity(a, c.issuer);
        return !!identity && c.kind === 'kem' && verifyCertificate(c, unb64(identity.publicKey));
      }
    } catch {
      return false; // malformed fields
    }
    return false;
  }
}
