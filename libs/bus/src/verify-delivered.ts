import { type MessageVerifier, type VerifyResult } from '@heady/pqc';
import { type JsMsg } from '@nats-io/jetstream';
import { Header } from './ids.js';

/**
 * Verifies a message JetStream delivered from a stream as every Heady consumer does: its
 * signature chain up to the root, revocation, the signer's subject permission, and its
 * freshness against the time JetStream stored it — not against now, so a message stored
 * long ago (a run's history, a redelivery) verifies as well as a new one.
 */
export function verifyDelivered(verifier: MessageVerifier, m: JsMsg): Promise<VerifyResult> {
  return verifier.verify({
    subject: m.subject,
    msgId: m.headers?.get(Header.MsgId) ?? '',
    contentType: m.headers?.get(Header.ContentType) ?? '',
    payload: m.data,
    header: (n) => m.headers?.get(n) || undefined,
    storedAt: Math.floor(Number(m.info.timestampNanos) / 1e6),
  });
}
