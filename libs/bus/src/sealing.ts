import {
  DEFAULT_RECIPIENTS,
  type KemKeyStore,
  RejectReason,
  type ReplayReference,
  SealedError,
  openPayload,
  recipientOf,
  sealPayload,
} from '@heady/pqc';
import { PublishError } from './errors.js';
import { type KvKeyRegistry } from './keys.js';

/** Options of {@link PayloadSealing}. */
export interface PayloadSealingOptions {
  /** The KEM epoch length (the key rotation period). */
  rotationMs: number;
  /** Subject pattern → recipient service (default {@link DEFAULT_RECIPIENTS}). */
  recipients?: Record<string, string>;
  /** This service's own epoch KEM keys, to open what is sealed to it. */
  store?: KemKeyStore;
}

/**
 * Seals RESTRICTED payloads to the recipient service's current epoch KEM key (looked up,
 * certificate-checked, in `heady-keys`) and opens those sealed to this service.
 */
export class PayloadSealing {
  constructor(
    private readonly registry: KvKeyRegistry,
    private readonly opts: PayloadSealingOptions,
  ) {}

  /** @throws PublishError when no service receives `subject` or it has no published KEM key. */
  async seal(subject: string, msgId: string, data: Uint8Array): Promise<Uint8Array> {
    const service = recipientOf(subject, this.opts.recipients ?? DEFAULT_RECIPIENTS);
    if (!service)
      throw new PublishError(subject, `no recipient service is known for RESTRICTED ${subject}`);
    const now = Date.now();
    const epoch = Math.floor(now / this.opts.rotationMs);
    // the recipient publishes the next epoch's key ahead of time; the previous one covers a late rotation
    const key =
      (await this.registry.kem(service, epoch, now)) ??
      (await this.registry.kem(service, epoch - 1, now));
    if (!key)
      throw new PublishError(
        subject,
        `no valid KEM key of ${service} in heady-keys; RESTRICTED payloads cannot be sealed to it`,
      );
    return sealPayload(data, key, subject, msgId);
  }

  /**
   * The plaintext of a payload sealed to this service, or why it cannot be opened. A replay
   * (`replayOf` from its verified signature) carries the original's sealed bytes unchanged,
   * so it opens with the binding its reference names: the seal stays bound to the original
   * subject and msg id, never re-bound to the copy.
   */
  open(
    subject: string,
    msgId: string,
    data: Uint8Array,
    replayOf?: ReplayReference,
  ): { ok: true; data: Uint8Array } | { ok: false; reason: RejectReason; detail: string } {
    if (replayOf?.subject !== undefined && replayOf.msgId !== undefined) {
      subject = replayOf.subject;
      msgId = replayOf.msgId;
    }
    const store = this.opts.store;
    if (!store)
      return {
        ok: false,
        reason: RejectReason.Undecryptable,
        detail: 'this process holds no KEM keys',
      };
    try {
      return { ok: true, data: openPayload(data, (ref) => store.secret(ref), subject, msgId) };
    } catch (e) {
      if (!(e instanceof SealedError)) throw e;
      return {
        ok: false,
        reason: e.reason === 'malformed' ? RejectReason.NotSealed : RejectReason.Undecryptable,
        detail: e.message,
      };
    }
  }
}
