import { type CommonConfig } from '@heady/config';
import {
  STREAM_SUBJECTS,
  type StageName,
  compensationSubject,
  stageSubject,
} from '@heady/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  jetstreamManager,
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
  /** Deliveries one process handles at once (default: the server's `concurrency`). */
  concurrency?: number;
}

/** The streams of ARCHITECTURE §2. */
export const STREAMS: readonly StreamSpec[] = [
  {
    name: 'PIPELINE',
    subjects: [STREAM_SUBJECTS.stageCommands, STREAM_SUBJECTS.compensationCommands],
  },
  { name: 'WORK', subjects: [STREAM_SUBJECTS.work] },
  { name: 'RUN_EVENTS', subjects: [STREAM_SUBJECTS.runEvents] },
  { name: 'AUDIT', subjects: [STREAM_SUBJECTS.audit] },
  { name: 'DLQ', subjects: [STREAM_SUBJECTS.deadLetters], maxAgeDays: 30 },
  { name: 'BILLING', subjects: [STREAM_SUBJECTS.billing] },
  { name: 'DEVICE', subjects: [STREAM_SUBJECTS.device] },
  { name: 'KNOWLEDGE', subjects: [STREAM_SUBJECTS.knowledge] },
];

/** KV buckets: the public key registry and the routing-table cache. */
export const KV_BUCKETS: readonly string[] = ['heady-keys', 'heady-config'];

/** Unacked deliveries a consumer may have out at once unless its spec says otherwise. */
export const DEFAULT_MAX_ACK_PENDING = 1_000;

/**
 * The durable consumer of one stage: `stage-<stage>` on `pipeline.stage.<stage>` in
 * PIPELINE; ack wait 30 s, 8 deliveries, retries after 250 ms, 1 s, 5 s, then every 15 s.
 */
export function stageConsumer(
  stage: StageName,
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return {
    stream: 'PIPELINE',
    durable: `stage-${stage}`,
    filterSubject: stageSubject(stage),
    ackWaitMs: 30_000,
    maxDeliver: 8,
    backoffMs: [250, 1_000, 5_000, 15_000],
    maxAckPending: DEFAULT_MAX_ACK_PENDING,
    ...overrides,
  };
}

/**
 * The durable consumer of one stage's compensation: `compensate-<stage>` on
 * `pipeline.compensate.<stage>` in PIPELINE, with the same defaults as {@link stageConsumer}.
 */
export function compensationConsumer(
  stage: StageName,
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return {
    ...stageConsumer(stage, overrides),
    durable: `compensate-${stage}`,
    filterSubject: compensationSubject(stage),
  };
}

/**
 * The workers' durable consumer: `workers` on `work.*` in WORK, shared by every workers
 * process (more processes, more tasks at once). A task waits on model providers, so its ack
 * wait is long and its delivery is kept alive while it works; retries after 1 s, 5 s, 15 s.
 */
export function workConsumer(
  overrides: Partial<Omit<ConsumerSpec, 'stream' | 'durable' | 'filterSubject'>> = {},
): ConsumerSpec {
  return {
    stream: 'WORK',
    durable: 'workers',
    filterSubject: STREAM_SUBJECTS.work,
    ackWaitMs: 30_000,
    maxDeliver: 10,
    backoffMs: [1_000, 5_000, 15_000],
    maxAckPending: DEFAULT_MAX_ACK_PENDING,
    ...overrides,
  };
}

const NAME_IN_USE = 10058;
/** nats-server 2.9 answers a create that loses the race with this instead of NAME_IN_USE. */
const SUBJECTS_OVERLAP = 10065;
const CONSUMER_EXISTS = 10148;

function isApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

/** The JetStream config of a stream spec (exported for tests). */
export function streamConfig(
  s: StreamSpec,
  cfg: Pick<CommonConfig, 'nats'>,
): Partial<StreamConfig> &
  Pick<StreamConfig, 'name' | 'subjects' | 'max_age' | 'duplicate_window'> {
  return {
    name: s.name,
    subjects: s.subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos((s.maxAgeDays ?? cfg.nats.streamMaxAgeDays) * 86_400_000),
    duplicate_window: nanos(cfg.nats.duplicateWindowSeconds * 1000),
    num_replicas: cfg.nats.streamReplicas ?? 1,
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  s: StreamSpec,
  cfg: Pick<CommonConfig, 'nats'>,
): Promise<void> {
  const want = streamConfig(s, cfg);
  let have = (await jsm.streams.info(s.name).catch(() => undefined))?.config;
  if (!have) {
    try {
      await jsm.streams.add(want);
      return;
    } catch (e) {
      // another process created it meanwhile with other settings (same settings succeed);
      // an overlap that is not that race (another stream owns the subjects) still throws
      if (!isApiError(e, NAME_IN_USE) && !isApiError(e, SUBJECTS_OVERLAP)) throw e;
      const raced = await jsm.streams.info(s.name).catch(() => undefined);
      if (!raced) throw e;
      have = raced.config;
    }
  }
  const same =
    have.subjects.join() === want.subjects.join() &&
    have.max_age === want.max_age &&
    have.duplicate_window === want.duplicate_window &&
    have.num_replicas === want.num_replicas;
  if (!same)
    await jsm.streams.update(s.name, {
      ...have,
      subjects: want.subjects,
      max_age: want.max_age,
      duplicate_window: want.duplicate_window,
      // a clustered JetStream moves a stream to more (or fewer) replicas in place
      num_replicas: want.num_replicas,
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
    max_ack_pending: c.maxAckPending ?? DEFAULT_MAX_ACK_PENDING,
  };
  let have = (await jsm.consumers.info(c.stream, c.durable).catch(() => undefined))?.config;
  if (!have) {
    try {
      await jsm.consumers.add(c.stream, want);
      return;
    } catch (e) {
      if (!isApiError(e, CONSUMER_EXISTS)) throw e;
      have = (await jsm.consumers.info(c.stream, c.durable)).config;
    }
  }
  if (
    have.ack_wait !== want.ack_wait ||
    have.max_deliver !== want.max_deliver ||
    have.max_ack_pending !== want.max_ack_pending ||
    have.filter_subject !== want.filter_subject
  ) {
    await jsm.consumers.update(c.stream, c.durable, {
      ack_wait: want.ack_wait,
      max_deliver: want.max_deliver,
      max_ack_pending: want.max_ack_pending,
      filter_subject: want.filter_subject,
    });
  }
}

/**
 * Creates each stream (file storage, limits retention, max age and duplicate window from
 * config), or updates one whose subjects, max age or duplicate window differ. Idempotent.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  streams: readonly StreamSpec[],
  config: Pick<CommonConfig, 'nats'>,
): Promise<void> {
  for (const s of streams) await ensureStream(jsm, s, config);
}

/**
 * Creates each durable pull consumer (explicit ack, deliver all, one filter subject), or
 * updates ack wait, max deliver, max ack pending and filter when they differ. Idempotent.
 */
export async function ensureConsumers(
  jsm: JetStreamManager,
  consumers: readonly ConsumerSpec[],
): Promise<void> {
  for (const c of consumers) await ensureConsumer(jsm, c);
}

/** Creates the KV buckets (history 5, `replicas` copies) unless they exist. Idempotent. */
export async function ensureKv(
  nc: NatsConnection,
  buckets: readonly string[],
  replicas = 1,
): Promise<void> {
  const kvm = new Kvm(nc);
  for (const b of buckets) await kvm.create(b, { history: 5, replicas });
}

/** What {@link ensureTopology} creates. */
export interface TopologyOptions {
  /** Default {@link STREAMS}. */
  streams?: readonly StreamSpec[];
  consumers?: readonly ConsumerSpec[];
  /** Default {@link KV_BUCKETS}. */
  kv?: readonly string[];
  config: Pick<CommonConfig, 'nats'>;
  /** Reuse this manager instead of opening one on `nc`. */
  jsm?: JetStreamManager;
}

/**
 * Creates the streams, then the durable consumers, then the KV buckets, or brings changed
 * settings up to date ($JS.API.STREAM.* / CONSUMER.* requests). Idempotent, and safe when
 * several processes run it at once: a create that loses the race reads and updates instead.
 */
export async function ensureTopology(nc: NatsConnection, opts: TopologyOptions): Promise<void> {
  const jsm = opts.jsm ?? (await jetstreamManager(nc));
  await ensureStreams(jsm, opts.streams ?? STREAMS, opts.config);
  await ensureConsumers(jsm, opts.consumers ?? []);
  await ensureKv(nc, opts.kv ?? KV_BUCKETS, opts.config.nats.streamReplicas ?? 1);
}
