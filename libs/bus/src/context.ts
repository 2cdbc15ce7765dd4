import { type JsMsg } from '@nats-io/jetstream';
import { type MsgHdrs } from '@nats-io/transport-node';
import { type ConsumerSpec } from './topology.js';

/** Copies a message to DLQ with a reason (implemented by the server). */
export type DeadLetterFn = (msg: JsMsg, spec: ConsumerSpec, reason: string) => Promise<void>;

/**
 * What a JetStream handler gets besides its payload: the delivery's facts and the
 * ways to settle it. A handler that settles nothing is acked when it returns.
 */
export class JetStreamContext {
  private settledAs: 'ack' | 'nak' | 'term' | 'dlq' | undefined;

  constructor(
    private readonly msg: JsMsg,
    readonly spec: ConsumerSpec,
    private readonly deadLetterFn: DeadLetterFn,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }
  get stream(): string {
    return this.msg.info.stream;
  }
  get consumer(): string {
    return this.msg.info.consumer;
  }
  /** 1 on the first delivery. */
  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }
  get streamSequence(): number {
    return this.msg.info.streamSequence;
  }
  get maxDeliver(): number {
    return this.spec.maxDeliver;
  }
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
  get msgId(): string | undefined {
    return this.msg.headers?.get('Nats-Msg-Id') || undefined;
  }
  /** How the handler settled the message, if it did. */
  get settled(): 'ack' | 'nak' | 'term' | 'dlq' | undefined {
    return this.settledAs;
  }

  /** Done: JetStream will not deliver it again to this consumer. */
  ack(): void {
    if (this.settledAs) return;
    this.settledAs = 'ack';
    this.msg.ack();
  }

  /** Resend after `delayMs`; a plain `nak()` redelivers at once. */
  nak(delayMs?: number): void {
    if (this.settledAs) return;
    this.settledAs = 'nak';
    this.msg.nak(delayMs);
  }

  /** Still working: resets the ack-wait timer so a long step is not redelivered meanwhile. */
  working(): void {
    if (!this.settledAs) this.msg.working();
  }

  /** Never deliver again. Prefer {@link deadLetter}, which keeps a copy with the reason. */
  term(reason?: string): void {
    if (this.settledAs) return;
    this.settledAs = 'term';
    this.msg.term(reason);
  }

  /** Copies the message to `dlq.<stream>.<consumer>` with `reason`, then terms it. */
  async deadLetter(reason: string): Promise<void> {
    if (this.settledAs) return;
    await this.deadLetterFn(this.msg, this.spec, reason);
    this.settledAs = 'dlq';
    this.msg.term(reason);
  }
}
