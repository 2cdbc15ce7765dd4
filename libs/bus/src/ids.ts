/** Header names the bus reads and writes. */
export const Header = {
  MsgId: 'Nats-Msg-Id',
  ContentType: 'Content-Type',
  /** W3C trace context, written by the publisher from the active span. */
  TraceParent: 'traceparent',
  TraceState: 'tracestate',
  /** JSON `{ code, message, details }` on a request/reply answer that is an error. */
  Error: 'Heady-Error',
  DlqReason: 'Heady-Dlq-Reason',
  /** The bounded class of the reason (`rejected:<why>`, `max-deliveries`, `no-handler`, `handler`). */
  DlqClass: 'Heady-Dlq-Class',
  DlqStream: 'Heady-Dlq-Stream',
  DlqConsumer: 'Heady-Dlq-Consumer',
  DlqSeq: 'Heady-Dlq-Seq',
  DlqSubject: 'Heady-Dlq-Subject',
  DlqDeliveries: 'Heady-Dlq-Deliveries',
  DlqAt: 'Heady-Dlq-At',
  DlqOriginalMsgId: 'Heady-Dlq-Original-Msg-Id',
  /** When JetStream stored the original (ms): what a redrive judges its freshness against. */
  DlqStoredAt: 'Heady-Dlq-Stored-At',
} as const;

/**
 * The Content-Type of an error reply: JSON `{ code, message, details }`. It is part of what
 * the reply's signature covers, so a verifying caller knows a reply is an error from signed
 * fields, not from the unsigned `Heady-Error` header alone.
 */
export const ERROR_CONTENT_TYPE = 'application/json; heady-error=1';

/** The msg id of a stage command: `<runId>:<stage>:<iteration>` — a retried publish of the same step is dropped by JetStream. */
export function stageMsgId(runId: string, stage: string, iteration: number): string {
  return `${runId}:${stage}:${iteration}`;
}

/** The msg id of a compensation command: `<runId>:<stage>:<iteration>:compensate` — each stage is undone by one message. */
export function compensationMsgId(runId: string, stage: string, iteration: number): string {
  return `${runId}:${stage}:${iteration}:compensate`;
}

/** A msg id made of the parts that say what a message means, joined with `:`. */
export function eventMsgId(...parts: string[]): string {
  if (!parts.length || parts.some((p) => p === ''))
    throw new Error('eventMsgId needs non-empty parts');
  return parts.join(':');
}

/** The msg id of a message's dead-letter copy: one copy per original, however often it is copied. */
export function dlqMsgId(stream: string, seq: number): string {
  return `dlq:${stream}:${seq}`;
}

/**
 * Whether a NATS subject matches a pattern with `*` (one token) and `>` (the rest, at least one token).
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const tok = p[i];
    if (tok === '>') return s.length > i;
    if (i >= s.length) return false;
    if (tok !== '*' && tok !== s[i]) return false;
  }
  return p.length === s.length;
}

/** The delay before redelivery attempt `deliveryCount + 1`: the schedule's entry, or its last. */
export function backoffFor(schedule: readonly number[], deliveryCount: number): number {
  if (!schedule.length) return 0;
  return schedule[Math.min(Math.max(deliveryCount - 1, 0), schedule.length - 1)] ?? 0;
}
