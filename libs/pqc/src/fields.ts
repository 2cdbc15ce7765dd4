import { CLASSIFICATIONS, type Classification } from '@heady/contracts';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { createHash } from 'node:crypto';

// Per-message hashing runs for every message signed or verified: Node's native SHA-512
// is several times faster than pure JS here (the composite itself stays on noble).
const sha512 = (b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha512').update(b).digest());

// Classification tiers (from the vocabulary); the signature binds one, so a downgrade in
// transit is detected.
export { CLASSIFICATIONS, type Classification };

/** What a signature covers (ARCHITECTURE §3). */
export interface SignedFields {
  subject: string;
  msgId: string;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  kid: string;
  classification: Classification;
  contentType: string;
  /** SHA-512 of the payload bytes. */
  payloadDigest: Uint8Array;
  /**
   * Set on a message an operator re-published: `<stream>/<seq>/<original signer kid>`.
   * Signed, so a replay cannot pass for an original nor point at another message.
   */
  replayOf?: string;
}

const DOMAIN = utf8ToBytes('heady.v1.signed-fields');

function lp(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/**
 * SHA-512 over an unambiguous (length-prefixed) encoding of the signed fields, so no two
 * different field sets encode alike (e.g. moving a character from subject to msg id).
 */
export function fieldsDigest(f: SignedFields): Uint8Array {
  const parts = [
    DOMAIN,
    utf8ToBytes(f.subject),
    utf8ToBytes(f.msgId),
    utf8ToBytes(String(f.issuedAt)),
    utf8ToBytes(f.kid),
    utf8ToBytes(f.classification),
    utf8ToBytes(f.contentType),
    f.payloadDigest,
    utf8ToBytes(f.replayOf ?? ''),
  ].map(lp);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return sha512(buf);
}

/** SHA-512 of a payload. */
export function payloadDigest(payload: Uint8Array): Uint8Array {
  return sha512(payload);
}

/**
 * Where a replayed message came from: the stream, its sequence there and who signed it —
 * and, when the copy's subject or msg id differ from the original's, the original's
 * (`subject`, `msgId`). A RESTRICTED payload is sealed to its original subject and msg id
 * (see sealed.ts); a replay keeps the sealed bytes, so its consumer opens them with the
 * binding this reference names. Signed with the rest of the fields, so the reference cannot
 * be moved to another message.
 */
export interface ReplayReference {
  stream: string;
  seq: number;
  kid: string;
  /** The subject the original was published (and sealed) on. */
  subject?: string;
  /** The original's `Nats-Msg-Id` (what its seal is bound to). */
  msgId?: string;
}

const REPLAY_RE =
  /^([A-Za-z0-9_-]{1,64})\/([1-9][0-9]{0,15})\/([0-9a-f]{32})(?:\/([!-.0-~]{1,256})\/([A-Za-z0-9_-]{1,700}))?$/;

/** `<stream>/<seq>/<kid>`, or `<stream>/<seq>/<kid>/<subject>/<base64url msg id>` with the original's binding. */
export function formatReplayOf(r: ReplayReference): string {
  const base = `${r.stream}/${r.seq}/${r.kid}`;
  const s =
    r.subject !== undefined && r.msgId !== undefined
      ? `${base}/${r.subject}/${Buffer.from(r.msgId, 'utf8').toString('base64url')}`
      : base;
  if (!REPLAY_RE.test(s)) throw new Error(`not a valid replay reference: ${s}`);
  return s;
}

/** The reference in a `Heady-Replay-Of` header, or undefined when it is malformed. */
export function parseReplayOf(s: string): ReplayReference | undefined {
  const [, stream, seq, kid, subject, msgId] = REPLAY_RE.exec(s) ?? [];
  if (!stream || !seq || !kid) return undefined;
  const ref: ReplayReference = { stream, seq: Number(seq), kid };
  if (subject && msgId) {
    ref.subject = subject;
    ref.msgId = Buffer.from(msgId, 'base64url').toString('utf8');
  }
  return ref;
}
