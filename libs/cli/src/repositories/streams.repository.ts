import { type BusConnection } from '@heady/bus';

/** A stored message as an operator sees it: where, when, its headers and its size. */
export interface StoredView {
  seq: number;
  subject: string;
  time: string;
  headers: Record<string, string>;
  bytes: number;
}

/** A stream with its counts, and each consumer with its lag. */
export interface StreamView {
  stream: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: { name: string; pending: number; ackPending: number; redelivered: number }[];
}

/**
 * JetStream's streams as the operator CLI reads and trims them, through the stream
 * manager of a bus connection (the signed publishing and replay are `libs/bus`'s).
 */
export class StreamsRepository {
  constructor(private readonly bus: BusConnection) {}

  /** Every stream (the first page of the listing) with its consumers. */
  async list(): Promise<StreamView[]> {
    const jsm = this.bus.jsm;
    const list: StreamView[] = [];
    for (const s of await jsm.streams.list().next()) {
      const consumers = (await jsm.consumers.list(s.config.name).next()).map((c) => ({
        name: c.name,
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        redelivered: c.num_redelivered,
      }));
      list.push({
        stream: s.config.name,
        messages: s.state.messages,
        bytes: s.state.bytes,
        firstSeq: s.state.first_seq,
        lastSeq: s.state.last_seq,
        consumers,
      });
    }
    return list;
  }

  /** The first and last sequence `stream` holds. */
  async bounds(stream: string): Promise<{ firstSeq: number; lastSeq: number }> {
    const info = await this.bus.jsm.streams.info(stream);
    return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq };
  }

  /** Message `seq` of `stream`; throws when there is none. */
  async stored(stream: string, seq: number): Promise<StoredView> {
    const m = await this.bus.jsm.streams.getMessage(stream, { seq });
    if (!m) throw new Error(`no message ${stream}/${seq}`);
    const headers: Record<string, string> = {};
    for (const k of m.header?.keys() ?? []) headers[k] = m.header?.get(k) ?? '';
    return { seq, subject: m.subject, time: m.time.toISOString(), headers, bytes: m.data.length };
  }

  /** Deletes message `seq` of `stream`; whether it was there. */
  drop(stream: string, seq: number): Promise<boolean> {
    return this.bus.jsm.streams.deleteMessage(stream, seq);
  }
}
