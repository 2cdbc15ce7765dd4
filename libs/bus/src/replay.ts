import { type JetStreamManager, type PubAck, type StoredMsg } from '@nats-io/jetstream';
import {
  CLASSIFICATIONS,
  type Classification,
  type MessageVerifier,
  SigHeader,
  type VerifyResult,
  formatReplayOf,
} from '@heady/pqc';
import { ReplayRefusedError } from './errors.js';
import { Header } from './ids.js';
import { type BusPublisher } from './publisher.js';

/** Options of {@link replayMessage}. */
export interface ReplayOptions {
  /** Publish on this subject instead of the original one (e.g. redrive to another stage). */
  toSubject?: string;
  /** `Nats-Msg-Id` of the copy (default `<original id>~replay~<stream>.<seq>.<time>`). */
  msgId?: string;
  /**
   * Rewrites the (verified) payload before it is re-signed, e.g. a stage command redriven to
   * another stage names that stage. Refused for RESTRICTED payloads: they are sealed.
   */
  transform?: (data: Uint8Array, contentType: string) => Uint8Array;
}

/** What {@link replayMessage} re-published. */
export interface ReplayResult {
  stream: string;
  seq: number;
  subject: string;
  msgId: string;
  replayOf: string;
  ack: PubAck;
}

/** A stored message as its consumer saw it, and what its original signature says. */
export interface StoredVerification {
  /** The subject it was published (and signed) on: a DLQ copy's `Heady-Dlq-Subject`. */
  subject: string;
  /** Its own `Nats-Msg-Id`: a DLQ copy's `Heady-Dlq-Original-Msg-Id`. */
  msgId: string;
  /** The time its freshness is judged against (ms), see {@link verifyStored}. */
  storedAt: number;
  result: VerifyResult;
  stored: StoredMsg;
}

/**
 * Verifies the message stored at `stream`/`seq` exactly as its consumer did: the original
 * subject and msg id (a dead letter keeps them in `Heady-Dlq-*` headers), the original
 * signature chain up to the root, revocation, the subject permission, and freshness against
 * the time JetStream stored the original — not against now, so an old but genuine message
 * still verifies. That time is the original's stored timestamp while it is still in its
 * stream with the same msg id; else a dead letter's `Heady-Dlq-Stored-At` when it is not
 * later than the dead letter's own stored time (it cannot have been stored after its copy);
 * else the copy's own stored time.
 * @throws when the message does not exist.
 */
export async function verifyStored(
  jsm: JetStreamManager,
  verifier: MessageVerifier,
  stream: string,
  seq: number,
): Promise<StoredVerification> {
  const stored = await jsm.streams.getMessage(stream, { seq });
  if (!stored) throw new Error(`no message ${stream}/${seq}`);
  const h = (n: string): string | undefined => stored.header?.get(n) || undefined;
  const ownTime = stored.time.getTime();
  const dlqSubject = h(Header.DlqSubject);
  const isDeadLetter = dlqSubject !== undefined && h(Header.DlqStream) !== undefined;
  const subject = isDeadLetter ? dlqSubject : stored.subject;
  const msgId = (isDeadLetter ? h(Header.DlqOriginalMsgId) : h(Header.MsgId)) ?? '';
  let storedAt = ownTime;
  if (isDeadLetter) {
    const original = await jsm.streams
      .getMessage(h(Header.DlqStream) ?? '', { seq: Number(h(Header.DlqSeq)) })
      .catch(() => null);
    const claimed = Number(h(Header.DlqStoredAt));
    if (original && original.header?.get(Header.MsgId) === msgId && original.subject === subject)
      storedAt = original.time.getTime();
    else if (Number.isSafeInteger(claimed) && claimed > 0 && claimed <= ownTime) storedAt = claimed;
  }
  const result = await verifier.verify({
    subject,
    msgId,
    contentType: h(Header.ContentType) ?? '',
    payload: stored.data,
    header: h,
    storedAt,
  });
  return { subject, msgId, storedAt, result, stored };
}

/**
 * Re-publishes the message stored at `stream`/`seq`, signed by the publisher's (operator)
 * key and carrying a signed reference to the original (`<stream>/<seq>/<kid>/<subject>/<msg
 * id>`, see ReplayReference). It first verifies the original signature chain as its consumer
 * would ({@link verifyStored}): an operator signature must never launder a message that was
 * forged, tampered, revoked or unsigned into one consumers accept. Consumers accept the copy
 * only from operator keys. The payload, its Content-Type and classification are kept as
 * stored (a RESTRICTED payload stays sealed to the original subject and msg id, which the
 * reference names so the consumer can open it); the copy gets its own `Nats-Msg-Id` so
 * JetStream's duplicate window does not drop it.
 * @throws ReplayRefusedError when the original does not verify; Error when it does not exist.
 */
export async function replayMessage(
  jsm: JetStreamManager,
  publisher: BusPublisher,
  verifier: MessageVerifier,
  stream: string,
  seq: number,
  opts: ReplayOptions = {},
): Promise<ReplayResult> {
  if (!publisher.signer) throw new Error('replaying needs a signer (an operator key)');
  const checked = await verifyStored(jsm, verifier, stream, seq);
  const { result: v, stored } = checked;
  if (!v.ok) throw new ReplayRefusedError(stream, seq, v.reason, v.detail);
  const kid = stored.header?.get(SigHeader.Kid) ?? v.kid;
  // a replay of a replay keeps pointing at what the seal was first bound to
  const bound =
    v.replayOf?.subject !== undefined && v.replayOf.msgId !== undefined
      ? { subject: v.replayOf.subject, msgId: v.replayOf.msgId }
      : { subject: checked.subject, msgId: checked.msgId };
  const replayOf = formatReplayOf({ stream, seq, kid, ...bound });
  const originalId = checked.msgId || `${stream}.${seq}`;
  const msgId = opts.msgId ?? `${originalId}~replay~${stream}.${seq}.${Date.now()}`;
  const subject = opts.toSubject ?? checked.subject;
  const cls = stored.header?.get(SigHeader.Classification) as Classification | undefined;
  const contentType = stored.header?.get(Header.ContentType) || 'application/octet-stream';
  let raw = stored.data;
  if (opts.transform) {
    if (v.classification === 'RESTRICTED')
      throw new ReplayRefusedError(
        stream,
        seq,
        'sealed',
        'a RESTRICTED payload is sealed; it can be replayed as it is, not rewritten',
      );
    raw = opts.transform(stored.data, contentType);
  }
  const ack = await publisher.publish(
    subject,
    { raw, contentType },
    {
      msgId,
      replayOf,
      ...(cls && CLASSIFICATIONS.includes(cls) ? { classification: cls } : {}),
    },
  );
  return { stream, seq, subject, msgId, replayOf, ack };
}
