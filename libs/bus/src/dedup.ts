import { type JetStreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { createHash } from 'node:crypto';

/** The KV bucket every replica de-duplicates in. */
export const DEDUP_BUCKET = 'heady-dedup';

/** What {@link DedupStore.claim} found. */
export type Claim =
  /** First time seen in the window: the caller owns it. */
  | { first: true }
  /** Claimed before by `owner` (the same owner again is a redelivery, another one a duplicate). */
  | { first: false; owner: string };

/**
 * The consumers' and responders' shared memory of message ids: a KV bucket whose entries
 * live as long as JetStream's duplicate window (`HEADY_DUPLICATE_WINDOW_SECONDS`, the same
 * setting), so every replica agrees and nobody remembers an id longer than JetStream does.
 * A msg id JetStream stored again after its window is therefore new here as well, as it
 * should be: the signature's freshness check is what refuses an old message replayed.
 */
export class DedupStore {
  private constructor(private readonly kv: KV) {}

  /** Opens (or creates) the bucket with entries kept `windowSeconds`; an existing bucket with another age is updated. */
  static async open(
    nc: NatsConnection,
    jsm: JetStreamManager,
    windowSeconds: number,
    replicas = 1,
  ): Promise<DedupStore> {
    const stream = `KV_${DEDUP_BUCKET}`;
    const have = await jsm.streams.info(stream).catch(() => undefined);
    const maxAge = nanos(windowSeconds * 1000);
    if (have && have.config.max_age !== maxAge)
      await jsm.streams.update(stream, {
        ...have.config,
        max_age: maxAge,
        // JetStream refuses a duplicate window longer than the max age
        duplicate_window: Math.min(have.config.duplicate_window, maxAge),
      });
    const kv = await new Kvm(nc).create(DEDUP_BUCKET, {
      history: 1,
      ttl: windowSeconds * 1000,
      replicas,
    });
    return new DedupStore(kv);
  }

  /** The bucket key of (scope, msg id): the id is hashed, so any msg id makes a valid key. */
  static key(scope: string, msgId: string): string {
    const h = createHash('sha256').update(msgId).digest('base64url');
    return `${scope.replace(/[^A-Za-z0-9_-]/g, '_')}.${h}`;
  }

  /**
   * Claims `msgId` in `scope` (a stream name, or `rpc`) for `owner` (a stream sequence, a
   * request's responder): atomic across replicas (a KV create fails when the key exists).
   */
  async claim(scope: string, msgId: string, owner: string): Promise<Claim> {
    const key = DedupStore.key(scope, msgId);
    try {
      await this.kv.create(key, owner);
      return { first: true };
    } catch (err) {
      const e = await this.kv.get(key).catch(() => null);
      // a create that failed for another reason than an existing key is the caller's problem
      if (!e || e.operation !== 'PUT') throw err;
      return { first: false, owner: e.string() };
    }
  }
}
