import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

// Just enough DER to write X.509 v3 certificates: a development CA and a server certificate
// signed by it, for TLS between Heady services and NATS when no other CA is at hand.
// ECDSA P-256 with SHA-256.

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
const explicit = (n: number, ...parts: Buffer[]): Buffer => tlv(0xa0 + n, ...parts);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
function int(b: Buffer): Buffer {
  return tlv(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function utcTime(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-12-01T10:00:00.000Z
  const s = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}
const name = (cn: string): Buffer =>
  seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
const ext = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function keyIdOf(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  // the subjectPublicKey bits of a P-256 SPKI are its last 65 bytes (uncompressed point)
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

function certificate(o: {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  issuerKey: KeyObject;
  issuerPublicKey: KeyObject;
  ca: boolean;
  names: readonly string[];
  validDays: number;
}): string {
  const now = Date.now();
  const serial = randomBytes(16);
  serial.writeUInt8(serial.readUInt8(0) & 0x7f, 0); // positive
  const exts = [
    ext('2.5.29.19', true, o.ca ? seq(bool(true)) : seq()),
    // CA: keyCertSign + cRLSign; server: digitalSignature
    ext('2.5.29.15', true, o.ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
    ext('2.5.29.14', false, octets(keyIdOf(o.publicKey))),
    ext('2.5.29.35', false, seq(tlv(0x80, keyIdOf(o.issuerPublicKey)))),
  ];
  if (!o.ca) {
    // serverAuth and clientAuth, so the same tooling can make client certificates
    exts.push(ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))));
    const alt = o.names.map((n) =>
      isIP(n) === 4
        ? tlv(0x87, Buffer.from(n.split('.').map(Number)))
        : tlv(0x82, Buffer.from(n, 'ascii')),
    );
    exts.push(ext('2.5.29.17', false, seq(...alt)));
  }
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(serial),
    ECDSA_SHA256,
    name(o.issuer),
    seq(utcTime(now - 3_600_000), utcTime(now + o.validDays * 86_400_000)),
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...exts)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, o.issuerKey)));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

/** PEM files of {@link devTlsCertificates}. */
export interface DevTlsFiles {
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/**
 * A development CA and a server certificate it signs for `names` (DNS names or IPv4
 * addresses), ECDSA P-256, valid `validDays`. For TLS to NATS on machines without another
 * CA (docker compose); the CA's key is thrown away, so it can sign nothing else.
 */
export function devTlsCertificates(names: readonly string[], validDays = 825): DevTlsFiles {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caCert = certificate({
    subject: 'Heady development CA',
    issuer: 'Heady development CA',
    publicKey: ca.publicKey,
    issuerKey: ca.privateKey,
    issuerPublicKey: ca.publicKey,
    ca: true,
    names: [],
    validDays,
  });
  const serverCert = certificate({
    subject: names[0] ?? 'localhost',
    issuer: 'Heady development CA',
    publicKey: server.publicKey,
    issuerKey: ca.privateKey,
    issuerPublicKey: ca.publicKey,
    ca: false,
    names,
    validDays,
  });
  return {
    caCert,
    serverCert,
    serverKey: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
