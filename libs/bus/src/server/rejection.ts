import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  type AuditEvent,
  AuditEventSchema,
  SECURITY_REJECTED_SUBJECT,
  STREAM_SUBJECTS,
  subjectPermitted,
} from '@heady/contracts';
import { type VerifyResult } from '@heady/pqc';
import { type Logger } from '@heady/telemetry';
import { createHash } from 'node:crypto';
import { type BusPublisher } from '../publisher.js';

/** Why a message was refused before any handler ran (a failed verification, or a seal that does not open). */
export type Rejection = Extract<VerifyResult, { ok: false }>;

/** Records a rejection of an audit event without publishing one (e.g. a row in `audit_logs`). */
export type RejectedAuditSink = (e: AuditEvent) => Promise<void>;

/** Whether `subject` is an audit event's (`audit.>`): refusing one is never audited again. */
export function isAuditSubject(subject: string): boolean {
  // `audit` itself counts too: `audit.` is covered by `audit.>`
  return subjectPermitted([STREAM_SUBJECTS.audit], `${subject}.`);
}

/** A UUID (v8 layout) derived from `name`: the same name always gives the same id. */
function uuidOf(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Where a rejected message was: `{ stream, consumer, seq, msgId }` of a delivery, `{ msgId }` of a request. */
export type RejectedAt = Record<string, string | number>;

/** Options of {@link RejectionAudit}. */
export interface RejectionAuditOptions {
  /** The audit events' actor: this instance's id. */
  actor: string;
  /** Publishes `audit.security.rejected` events (signed when it has a signer); without one nothing is published. */
  publisher?: BusPublisher;
  /** Records rejections of audit events, which are never published as audit events again. */
  sink?: RejectedAuditSink;
  logger?: Logger;
}

/**
 * Turns a rejection into its `MESSAGE_REJECTED` audit event, and publishes it (or, for a
 * rejected audit event, hands it to the sink). Failures are logged, never thrown: an audit
 * that cannot be written does not change what happens to the rejected message.
 */
export class RejectionAudit {
  constructor(private readonly opts: RejectionAuditOptions) {}

  /** The audit event of a rejection; its id is derived from what was rejected, so it is stored once ever. */
  event(v: Rejection, subject: string, where: RejectedAt): { event: AuditEvent; msgId: string } {
    const id = `rejected:${where.stream ?? 'rpc'}:${where.seq ?? where.msgId}`;
    return {
      msgId: `audit:${id}`,
      event: create(AuditEventSchema, {
        // one row per rejected message ever: audit_logs ignores a second insert of an id
        id: uuidOf(id),
        actor: this.opts.actor,
        action: 'MESSAGE_REJECTED',
        target: subject,
        status: v.reason,
        details: { ...where, detail: v.detail },
        at: timestampNow(),
      }),
    };
  }

  /** Publishes the audit event on `audit.security.rejected` (msg id `audit:rejected:…`, so JetStream keeps one). */
  async publish(v: Rejection, subject: string, where: RejectedAt): Promise<void> {
    const pub = this.opts.publisher;
    if (!pub) return;
    const { event, msgId } = this.event(v, subject, where);
    await pub
      .publish(SECURITY_REJECTED_SUBJECT, { schema: AuditEventSchema, message: event }, { msgId })
      .catch((err: unknown) => this.opts.logger?.error({ err }, 'could not audit a rejection'));
  }

  /** Hands the audit event of a rejected audit event to the sink, if there is one. */
  async record(v: Rejection, subject: string, where: RejectedAt): Promise<void> {
    const sink = this.opts.sink;
    if (!sink) return;
    await sink(this.event(v, subject, where).event).catch((err: unknown) =>
      this.opts.logger?.error({ err }, 'could not record a rejected audit event'),
    );
  }
}
