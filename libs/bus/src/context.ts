import { type JsMsg } from '@nats-io/jetstream';
import { type MsgHdrs } from '@nats-io/transport-node';
import { type ConsumerSpec } from './topology.js';

/** Copies a message to DLQ with a reason (implemented by the server); `created` is false when the copy existed. */
export type DeadLetterFn = (
  msg: JsMsg,
  spec: ConsumerSpec,
  reason: string,
) => Promise<{ created: boolean }>;

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

  /** The subject the message was published on. */
  get subject(): string {
    return this.msg.subject;
  }
  /** The stream holding it. */
  get stream(): string {
    return this.msg.info.stream;
  }
  /** The durable consumer that delivered it. */
  get consumer(): string {
    return this.msg.info.consumer;
  }
  /** How often JetStream has delivered it to this consumer: 1 on the first delivery. */
  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }
  /** Its sequence in the stream (what `dlq:<stream>:<seq>` and `jsm.streams.getMessage` use). */
  get streamSequence(): number {
    return this.msg.info.streamSequence;
  }
  /** The consumer's delivery limit: at `deliveryCount === maxDeliver` a failure goes to DLQ. */
  get maxDeliver(): number {
    return this.spec.maxDeliver;
  }
  /** The NATS headers as published (`Nats-Msg-Id`, `Content-Type`, `traceparent`, ...). */
  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }
  /** The publisher's `Nats-Msg-Id`. */
  get msgId(): string | undefined {
    return this.msg.headers?.get('Nats-Msg-Id') || undefined;
  }
  /** How the handler settled the message, if it did. */
  get settled(): 'ack' | 'nak' | 'term' | 'dlq' | undefined {
    return this.settledAs;
  }

  /** Sends `+ACK`: done, JetStream will not deliver it again to this consumer. No-op once settled. */
  ack(): void {
    if (this.settledAs) return;
    this.settledAs = 'ack';
    this.msg.ack();
  }

  /** Sends `-NAK` (with `{"delay"}`): resend after `delayMs`; a plain `nak()` redelivers at once. No-op once settled. */
  nak(delayMs?: number): void {
    if (this.settledAs) return;
    this.settledAs = 'nak';
    this.msg.nak(delayMs);
  }

  /** Sends `+WPI`: still working, resets the ack-wait timer so a long step is not redelivered meanwhile. */
  working(): void {
    if (!this.settledAs) this.msg.working();
  }

  /**
   * Runs `fn` while telling JetStream the delivery is still being worked on every third of
   * the ack wait (at most every 250 ms), so a long handler is not redelivered meanwhile.
   */
  async whileWorking<T>(fn: () => Promise<T>): Promise<T> {
    const beat = setInterval(() => this.working(), Math.max(250, this.spec.ackWaitMs / 3));
    try {
      return await fn();
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * Sends `+TERM`: never deliver again. Prefer {@link deadLetter}, which keeps a copy with
   * the reason. The reason is not sent to the server: nats-server before 2.10.4 ignores a
   * `+TERM <reason>` (it matches the bare token only) and keeps redelivering the message.
   */
  term(_reason?: string): void {
    if (this.settledAs) return;
    this.settledAs = 'term';
    this.msg.term();
  }

  /**
   * Publishes a copy to `dlq.<stream>.<consumer>` (msg id `dlq:<stream>:<seq>`, original
   * bytes and headers plus `Heady-Dlq-*`) and, once JetStream acknowledged the copy, sends
   * `+TERM`. If the copy fails it throws and the message stays unsettled (redelivered).
   * Resolves to whether this call made the copy (false: settled already, or the copy existed).
   */
  async deadLetter(reason: string): Promise<boolean> {
    if (this.settledAs) return false;
    const copy = await this.deadLetterFn(this.msg, this.spec, reason);
    this.settledAs = 'dlq';
    this.msg.term();
    return copy.created;
  }

  /**
   * {@link deadLetter} that always settles: a failed copy is tried again `attempts` times in
   * all (100 ms, 200 ms, ... apart); when every attempt failed the message is terminated
   * anyway and the returned `error` says why. For messages that must never come back (a
   * rejected forgery): a missing DLQ copy is logged and counted, an endless redelivery is worse.
   */
  async deadLetterOrTerm(
    reason: string,
    attempts = 3,
  ): Promise<{ created: boolean; error?: unknown }> {
    let error: unknown;
    for (let i = 1; i <= attempts && !this.settledAs; i++) {
      try {
        return { created: await this.deadLetter(reason) };
      } catch (err) {
        error = err;
        if (i < attempts) await new Promise((r) => setTimeout(r, 100 * i));
      }
    }
    if (this.settledAs) return { created: false };
    this.term(reason);
    return { created: false, error };
  }
}
