import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Certificate, DEFAULT_SUBJECTS, b64, issueCertificate, unb64 } from './certs.js';
import { type CompositeKeyPair, compositeKeygen, keyId } from './composite.js';

/** The root trust anchor as stored on disk (development only: production keeps the secret offline). */
export interface RootKeyFile {
  kid: string;
  publicKey: string;
  secretKey: string;
}

/** A service identity: its certificate and its secret key. */
export interface IdentityFile {
  cert: Certificate;
  secretKey: string;
}

const TEN_YEARS = 10 * 365 * 86_400_000;

function writeSecret(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Creates the development root in `dir` (`root.json` secret, `root.pub` public) unless one exists. */
export function initRoot(dir: string): { created: boolean; kid: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'root.json');
  if (existsSync(file))
    return { created: false, kid: (JSON.parse(readFileSync(file, 'utf8')) as RootKeyFile).kid };
  const k = compositeKeygen();
  const kid = keyId(k.publicKey);
  writeSecret(file, {
    kid,
    publicKey: b64(k.publicKey),
    secretKey: b64(k.secretKey),
  } satisfies RootKeyFile);
  writeFileSync(
    join(dir, 'root.pub'),
    `${JSON.stringify({ kid, publicKey: b64(k.publicKey) }, null, 2)}\n`,
  );
  return { created: true, kid };
}

export function loadRoot(dir: string): {
  kid: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
} {
  const r = JSON.parse(readFileSync(join(dir, 'root.json'), 'utf8')) as RootKeyFile;
  return { kid: r.kid, publicKey: unb64(r.publicKey), secretKey: unb64(r.secretKey) };
}

/** The root public key: from `root.pub` in `dir`. */
export function loadRootPublicKey(dir: string): Uint8Array {
  return unb64(
    (JSON.parse(readFileSync(join(dir, 'root.pub'), 'utf8')) as { publicKey: string }).publicKey,
  );
}

/** Issues (or re-issues) `<service>.json` in `dir`: a fresh identity key certified by the root. */
export function issueIdentity(
  dir: string,
  service: string,
  subjects = DEFAULT_SUBJECTS[service] ?? [],
  kind: 'identity' | 'operator' = 'identity',
): IdentityFile {
  const root = loadRoot(dir);
  const k = compositeKeygen();
  const now = Date.now();
  const cert = issueCertificate(root, {
    kind,
    service,
    publicKey: k.publicKey,
    subjects,
    notBefore: now - 60_000,
    notAfter: now + TEN_YEARS,
  });
  const file: IdentityFile = { cert, secretKey: b64(k.secretKey) };
  writeSecret(join(dir, `${service}.json`), file);
  return file;
}

export function loadIdentity(
  dir: string,
  service: string,
): { cert: Certificate; key: CompositeKeyPair } {
  const path = join(dir, `${service}.json`);
  if (!existsSync(path))
    throw new Error(
      `no identity for ${service} in ${dir}; run: npx heady keys init && npx heady keys issue ${service}`,
    );
  const f = JSON.parse(readFileSync(path, 'utf8')) as IdentityFile;
  return {
    cert: f.cert,
    key: { publicKey: unb64(f.cert.publicKey), secretKey: unb64(f.secretKey) },
  };
}

/** Creates the root and an identity for each service that lacks one (what `npm start` does on first run). */
export function ensureDevKeys(dir: string, services: readonly string[]): void {
  initRoot(dir);
  for (const s of services) if (!existsSync(join(dir, `${s}.json`))) issueIdentity(dir, s);
}

/** A fresh epoch key for one instance, certified by its identity, valid for `lifetimeMs` from now. */
export function newEpoch(
  identity: { cert: Certificate; key: CompositeKeyPair },
  instance: string,
  lifetimeMs: number,
): { key: CompositeKeyPair; cert: Certificate } {
  const key = compositeKeygen();
  const now = Date.now();
  const cert = issueCertificate(
    { kid: identity.cert.kid, secretKey: identity.key.secretKey },
    {
      kind: 'epoch',
      service: identity.cert.service,
      instance,
      publicKey: key.publicKey,
      subjects: identity.cert.subjects,
      notBefore: now - 60_000,
      notAfter: now + lifetimeMs,
    },
  );
  return { key, cert };
}
