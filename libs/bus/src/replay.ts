import { type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { CLASSIFICATIONS, type Classification, SigHeader, formatReplayOf } from '@heady/pqc';
import { Header } from './ids.js';
import { type BusPublisher } from './publisher.js';

/** Options of {@link replayMessage}. */
export interface ReplayOptions {
  /** Publish on this subject instead of the original one (e.g. redrive to another stage). */
  toSubject?: string;
  /** `Nats-Msg-Id` of the copy (default `<original id>~replay~<stream>.<seq>.<time>`). */
  msgId?: string;
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

/**
 * Re-publishes the message stored at `stream`/`seq`, signed by the publisher's (operator)
 * key and carrying a signed reference to the original: `<stream>/<seq>/<original kid>`.
 * Consumers accept such a copy only from operator keys. The payload, its Content-Type and
 * its classification are kept as stored; the copy gets its own `Nats-Msg-Id` so JetStream's
 * duplicate window does not drop it.
 * @throws when the message does not exist or was never signed.
 */
export async function replayMessage(
  jsm: JetStreamManager,
  publisher: BusPublisher,
  stream: string,
  seq: number,
  opts: ReplayOptions = {},
): Promise<ReplayResult> {
  if (!publisher.signer) throw new Error('replaying needs a signer (an operator key)');
  const stored = await jsm.streams.getMessage(stream, { seq });
  if (!stored) throw new Error(`no message ${stream}/${seq}`);
  const kid = stored.header?.get(SigHeader.Kid);
  if (!kid) throw new Error(`message ${stream}/${seq} is not signed; refusing to vouch for it`);
  const replayOf = formatReplayOf({ stream, seq, kid });
  const originalId = stored.header?.get(Header.MsgId) || `${stream}.${seq}`;
  const msgId = opts.msgId ?? `${originalId}~replay~${stream}.${seq}.${Date.now()}`;
  const subject = opts.toSubject ?? stored.subject;
  const cls = stored.header?.get(SigHeader.Classification) as Classification | undefined;
  const ack = await publisher.publish(
    subject,
    {
      raw: stored.data,
      contentType: stored.header?.get(Header.ContentType) || 'application/octet-stream',
    },
    {
      msgId,
      replayOf,
      ...(cls && CLASSIFICATIONS.includes(cls) ? { classification: cls } : {}),
    },
  );
  return { stream, seq, subject, msgId, replayOf, ack };
}
