import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Certificate, b64, issueCertificate, unb64 } from './certs.js';
import { type CompositeKeyPair } from './composite.js';
import { kemKeygen } from './sealed.js';

interface KemKeyFile {
  service: string;
  epoch: number;
  publicKey: string;
  secretKey: string;
}

/** Options of {@link KemKeyStore}. */
export interface KemKeyStoreOptions {
  /** Length of a KEM epoch (the key rotation period). */
  rotationMs: number;
  /** How long an epoch's secret is kept after the epoch ends (as long as the streams keep messages). */
  retentionMs: number;
}

/**
 * A service's epoch KEM keys (ML-KEM-768 + X25519) on disk, one file per epoch under
 * `<keysDir>/kem/<service>/`, shared by every instance of the service that shares the
 * directory. The epoch of time `t` is `floor(t / rotationMs)`; whichever instance needs an
 * epoch first creates its key (exclusive create, so instances agree). A secret is deleted
 * once its epoch ended more than `retentionMs` ago: from then on nothing sealed to it can
 * be opened, not even with every other key of the system (forward secrecy).
 */
export class KemKeyStore {
  private readonly dir: string;
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    keysDir: string,
    readonly service: string,
    private readonly opts: KemKeyStoreOptions,
  ) {
    if (!/^[a-z0-9-]+$/.test(service)) throw new Error(`bad service name ${service}`);
    this.dir = join(keysDir, 'kem', service);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  epochAt(t: number): number {
    return Math.floor(t / this.opts.rotationMs);
  }

  static keyRef(service: string, epoch: number): string {
    return `${service}.${epoch}`;
  }

  private file(epoch: number): string {
    return join(this.dir, `${epoch}.json`);
  }

  /** The key of `epoch`, created when missing. */
  ensure(epoch: number): { keyRef: string; epoch: number; publicKey: Uint8Array } {
    const path = this.file(epoch);
    if (!existsSync(path)) {
      const k = kemKeygen();
      const f: KemKeyFile = {
        service: this.service,
        epoch,
        publicKey: b64(k.publicKey),
        secretKey: b64(k.secretKey),
      };
      try {
        writeFileSync(path, JSON.stringify(f), { mode: 0o600, flag: 'wx' });
        chmodSync(path, 0o600);
      } catch (e) {
        // another instance created it first: use theirs
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    const f = JSON.parse(readFileSync(path, 'utf8')) as KemKeyFile;
    return {
      keyRef: KemKeyStore.keyRef(this.service, epoch),
      epoch,
      publicKey: unb64(f.publicKey),
    };
  }

  /** A certificate of epoch `epoch`'s public key, signed by the service identity. */
  certify(
    identity: { cert: Certificate; key: CompositeKeyPair },
    epoch: number,
    overlapMs: number,
  ): Certificate {
    const k = this.ensure(epoch);
    return issueCertificate(
      { kid: identity.cert.kid, secretKey: identity.key.secretKey },
      {
        kind: 'kem',
        service: this.service,
        instance: String(epoch),
        publicKey: k.publicKey,
        subjects: [],
        notBefore: epoch * this.opts.rotationMs - overlapMs,
        notAfter: (epoch + 1) * this.opts.rotationMs + overlapMs,
      },
    );
  }

  /** The secret of `keyRef` if this store holds it (and it has not been deleted). */
  secret(keyRef: string): Uint8Array | undefined {
    const [service, e] = keyRef.split('.');
    if (service !== this.service || !e || !/^\d{1,15}$/.test(e)) return undefined;
    const hit = this.cache.get(keyRef);
    if (hit) return hit;
    const path = this.file(Number(e));
    if (!existsSync(path)) return undefined;
    const s = unb64((JSON.parse(readFileSync(path, 'utf8')) as KemKeyFile).secretKey);
    this.cache.set(keyRef, s);
    return s;
  }

  /** Deletes every secret whose epoch ended more than `retentionMs` before `now`; returns their refs. */
  purge(now = Date.now()): string[] {
    const gone: string[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^(\d+)\.json$/.exec(name);
      if (!m) continue;
      const epoch = Number(m[1]);
      if ((epoch + 1) * this.opts.rotationMs + this.opts.retentionMs >= now) continue;
      const ref = KemKeyStore.keyRef(this.service, epoch);
      const cached = this.cache.get(ref);
      cached?.fill(0);
      this.cache.delete(ref);
      rmSync(join(this.dir, name), { force: true });
      gone.push(ref);
    }
    return gone;
  }
}
