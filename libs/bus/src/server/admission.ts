import {
  type MessageVerifier,
  RejectReason,
  type ReplayReference,
  type VerifyResult,
} from '@heady/pqc';
import { type Logger } from '@heady/telemetry';
import { type JsMsg } from '@nats-io/jetstream';
import { type JetStreamContext } from '../context.js';
import { reasonClass } from '../dead-letter.js';
import { type DedupStore } from '../dedup.js';
import { type PayloadSealing } from '../sealing.js';
import { verifyDelivered } from '../verify-delivered.js';
import { dlqCopyFailed, duplicates, rejected, rejectionsUnaudited } from './metrics.js';
import { type Rejection, type RejectionAudit, isAuditSubject } from './rejection.js';

/** The decision on one delivery, made before any handler sees it. */
export type Verdict =
  /** It may reach its handler, with this payload (the plaintext, when it was sealed). */
  | { kind: 'admit'; payload: Uint8Array }
  /** Its msg id is held by another stored message within the duplicate window: ack and skip it. */
  | { kind: 'skip' }
  /** Refused: copied to DLQ with the reason, terminated and audited. */
  | { kind: 'refuse'; rejection: Rejection };

/** A RESTRICTED payload opened, or why it did not open. */
export type Opened = { ok: true; data: Uint8Array } | Rejection;

/** The checks of {@link admitDelivery}, each run only when the ones before it passed. */
export interface AdmissionSteps {
  /** Verifies signature, key chain, revocation, subject permission and freshness. */
  verify(): Promise<VerifyResult>;
  /** Claims the msg id for this stored message: false when another one holds it. */
  claim(): Promise<boolean>;
  /** Opens a RESTRICTED payload sealed to this service (bound to the original when a replay). */
  open(replayOf: ReplayReference | undefined): Opened;
}

/**
 * Whether a delivery may reach its handler. In this order: a message that does not verify
 * is refused; only a verified one claims its msg id (a forgery never takes the id of the
 * genuine message), and one whose id another message holds is skipped; a RESTRICTED payload
 * is admitted only opened, and refused when it does not open. Anything else is admitted as is.
 */
export async function admitDelivery(payload: Uint8Array, steps: AdmissionSteps): Promise<Verdict> {
  const v = await steps.verify();
  if (!v.ok) return { kind: 'refuse', rejection: v };
  if (!(await steps.claim())) return { kind: 'skip' };
  if (v.classification !== 'RESTRICTED') return { kind: 'admit', payload };
  const opened = steps.open(v.replayOf);
  return opened.ok
    ? { kind: 'admit', payload: opened.data }
    : { kind: 'refuse', rejection: opened };
}

/** Options of {@link DeliveryAdmission}. */
export interface DeliveryAdmissionOptions {
  verifier: MessageVerifier;
  /** The shared msg-id store; without one every verified delivery counts as first. */
  dedup?: DedupStore;
  /** Opens RESTRICTED payloads sealed to this service; without it they are refused. */
  sealing?: PayloadSealing;
  audit: RejectionAudit;
  logger?: Logger;
}

/** Admission of JetStream deliveries: {@link admitDelivery} over the verifier, the msg-id store and sealing, and the refusal of what it refuses. */
export class DeliveryAdmission {
  constructor(private readonly opts: DeliveryAdmissionOptions) {}

  /** The verdict on `m`, delivered as `ctx`. Throws when the verifier cannot decide (the delivery is retried). */
  decide(m: JsMsg, ctx: JetStreamContext): Promise<Verdict> {
    return admitDelivery(m.data, {
      verify: () => verifyDelivered(this.opts.verifier, m),
      claim: () => this.firstDelivery(ctx),
      open: (replayOf) => this.open(m, ctx.msgId, replayOf),
    });
  }

  /**
   * Whether this delivery's (stream, msg id) is new within the duplicate window, or a
   * redelivery of the same stored message. The same id at another sequence inside the
   * window is a duplicate JetStream should have dropped (a purged or re-created stream):
   * skipped and counted, not a security rejection — the signature already proved who sent
   * it. A store that cannot answer does not stop the message (JetStream's window still holds).
   */
  private async firstDelivery(ctx: JetStreamContext): Promise<boolean> {
    const { dedup } = this.opts;
    if (!dedup || !ctx.msgId) return true;
    try {
      const c = await dedup.claim(ctx.stream, ctx.msgId, String(ctx.streamSequence));
      if (c.first || c.owner === String(ctx.streamSequence)) return true;
      duplicates.inc({ scope: ctx.stream });
      this.opts.logger?.info(
        { consumer: ctx.spec.durable, seq: ctx.streamSequence, first: c.owner, msg_id: ctx.msgId },
        'duplicate msg id within the duplicate window; skipped',
      );
      return false;
    } catch (err) {
      this.opts.logger?.warn(
        { err, consumer: ctx.spec.durable },
        'de-duplication store unavailable',
      );
      return true;
    }
  }

  private open(m: JsMsg, msgId: string | undefined, replayOf: ReplayReference | undefined): Opened {
    if (!this.opts.sealing)
      return {
        ok: false,
        reason: RejectReason.Undecryptable,
        detail: 'this process cannot open RESTRICTED payloads',
      };
    return this.opts.sealing.open(m.subject, msgId ?? '', m.data, replayOf);
  }

  /**
   * A refused delivery: counted, logged, copied to DLQ with the reason and terminated — once:
   * a failed copy is tried again a few times, then the message is terminated anyway (logged
   * and counted), so a refused message is never handed out again. Audited only when this
   * call made the DLQ copy (one audit event per stream sequence, whichever consumer or
   * replica refused it first) and never when the refused message is itself an audit event:
   * auditing that would feed the consumer that refused it.
   */
  async refuse(ctx: JetStreamContext, v: Rejection): Promise<void> {
    const { subject } = ctx;
    rejected.inc({ reason: v.reason });
    const where = {
      reason: v.reason,
      detail: v.detail,
      subject,
      seq: ctx.streamSequence,
      consumer: ctx.spec.durable,
    };
    this.opts.logger?.warn(where, 'message rejected');
    const reason = `rejected (${v.reason}): ${v.detail}`;
    const copy = await ctx.deadLetterOrTerm(reason);
    if (copy.error !== undefined) {
      dlqCopyFailed.inc({ stream: ctx.stream, consumer: ctx.spec.durable });
      this.opts.logger?.error(
        { ...where, err: copy.error, class: reasonClass(reason) },
        'rejected message terminated without a DLQ copy',
      );
    } else if (!copy.created) {
      rejectionsUnaudited.inc({ why: 'repeat' });
      return;
    }
    const at = {
      stream: ctx.stream,
      consumer: ctx.spec.durable,
      seq: ctx.streamSequence,
      msgId: ctx.msgId ?? '',
    };
    if (isAuditSubject(subject)) {
      rejectionsUnaudited.inc({ why: 'audit-event' });
      this.opts.logger?.warn(where, 'rejected an audit event: recorded, not published as one');
      await this.opts.audit.record(v, subject, at);
      return;
    }
    await this.opts.audit.publish(v, subject, at);
  }
}
