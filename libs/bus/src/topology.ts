import { type CommonConfig, type StageName } from '@heady/config';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';

/** A stream the system needs. */
export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Days messages are kept (replay window); defaults to the configured stream max age. */
  maxAgeDays?: number;
}

/** A durable pull consumer: explicit acks, deliver all, filtered on one subject (nats-server 2.9 has no multi-filter). */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** How long a delivery may stay unacked before JetStream redelivers it. */
  ackWaitMs: number;
  /** Deliveries before the message goes to DLQ. */
  maxDeliver: number;
  /** Delay before each retry after a failure (`nak(delay)`), by delivery count; the last entry repeats. */
  backoffMs: number[];
  maxAckPending?: number;
}

/** The streams of ARCHITECTURE §2. */
export const STREAMS: readonly StreamSpec[] = [
  { name: 'PIPELINE', subjects: ['pipeline.stage.*', 'pipeline.compensate.*'] },
  { name: 'WORK', subjects: ['work.*'] },
  { name: 'RUN_EVENTS', subjects: ['runs.>'] },
  { name: 'AUDIT', subjects: ['audit.>'] },
  { name: 'DLQ', subjects: ['dlq.>'], maxAgeDays: 30 },
  { name: 'BILLING', subjects: ['billing.>'] },
  { name: 'DEVICE', subjects: ['device.>'] },
];

/** KV buckets: the public key registry and the routing-table cache. */
export const KV_BUCKETS: readonly string[] = ['heady-keys', 'heady-config'];

/** The durable consumer of one stage: `stage-<stage>` on `pipeline.stage.<stage>`. */
export function stageConsumer(
  stage: StageName,
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return {
    stream: 'PIPELINE',
    durable: `stage-${stage}`,
    filterSubject: `pipeline.stage.${stage}`,
    ackWaitMs: 30_000,
    maxDeliver: 8,
    backoffMs: [250, 1_000, 5_000, 15_000],
    maxAckPending: 1_000,
    ...overrides,
  };
}

const NAME_IN_USE = 10058;
const CONSUMER_EXISTS = 10148;

function isApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

function streamConfig(
  s: StreamSpec,
  cfg: Pick<CommonConfig, 'nats'>,
): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: s.subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos((s.maxAgeDays ?? cfg.nats.streamMaxAgeDays) * 86_400_000),
    duplicate_window: nanos(cfg.nats.duplicateWindowSeconds * 1000),
    num_replicas: 1,
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  s: StreamSpec,
  cfg: Pick<CommonConfig, 'nats'>,
): Promise<void> {
  const want = streamConfig(s, cfg);
  const info = await jsm.streams.info(s.name).catch(() => undefined);
  if (!info) {
    try {
      await jsm.streams.add(want);
      return;
    } catch (e) {
      if (!isApiError(e, NAME_IN_USE)) throw e; // created meanwhile by another process
    }
  }
  const have = info?.config ?? (await jsm.streams.info(s.name)).config;
  const same =
    have.subjects.join() === want.subjects?.join() &&
    have.max_age === want.max_age &&
    have.duplicate_window === want.duplicate_window;
  if (!same)
    await jsm.streams.update(s.name, {
      ...have,
      subjects: want.subjects ?? have.subjects,
      max_age: want.max_age ?? have.max_age,
      duplicate_window: want.duplicate_window ?? have.duplicate_window,
    });
}

async function ensureConsumer(jsm: JetStreamManager, c: ConsumerSpec): Promise<void> {
  const want = {
    durable_name: c.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: c.filterSubject,
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: c.maxDeliver,
    max_ack_pending: c.maxAckPending ?? 1_000,
  };
  const info = await jsm.consumers.info(c.stream, c.durable).catch(() => undefined);
  if (!info) {
    try {
      await jsm.consumers.add(c.stream, want);
      return;
    } catch (e) {
      if (!isApiError(e, CONSUMER_EXISTS)) throw e;
    }
  }
  const have = info?.config ?? (await jsm.consumers.info(c.stream, c.durable)).config;
  if (
    have.ack_wait !== want.ack_wait ||
    have.max_deliver !== want.max_deliver ||
    have.max_ack_pending !== want.max_ack_pending
  ) {
    await jsm.consumers.update(c.stream, c.durable, {
      ack_wait: want.ack_wait,
      max_deliver: want.max_deliver,
      max_ack_pending: want.max_ack_pending,
    });
  }
}

/** What {@link ensureTopology} creates. */
export interface TopologyOptions {
  streams?: readonly StreamSpec[];
  consumers?: readonly ConsumerSpec[];
  kv?: readonly string[];
  config: Pick<CommonConfig, 'nats'>;
}

/**
 * Creates the streams, durable consumers and KV buckets, or brings changed settings up
 * to date. Idempotent and safe when several processes start at once.
 */
export async function ensureTopology(
  nc: NatsConnection,
  jsm: JetStreamManager,
  opts: TopologyOptions,
): Promise<void> {
  for (const s of opts.streams ?? STREAMS) await ensureStream(jsm, s, opts.config);
  for (const c of opts.consumers ?? []) await ensureConsumer(jsm, c);
  const kvm = new Kvm(nc);
  for (const b of opts.kv ?? KV_BUCKETS) await kvm.create(b, { history: 5 });
}
