import { type CommonConfig } from '@heady/config';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { type Payload, payloadOf } from '../codec.js';
import { type BusConnection, closeBus, connectBus } from '../connection.js';
import { PublishError } from '../errors.js';
import { BusPublisher } from '../publisher.js';

/**
 * What `client.emit(subject, record)` publishes: the payload and its meaning-derived msg id
 * (sent as `Nats-Msg-Id`), plus extra headers.
 */
export class JetStreamRecord {
  constructor(
    readonly payload: Payload,
    readonly options: { msgId: string; headers?: Record<string, string> },
  ) {}
}

/**
 * Nest ClientProxy over the bus: `emit(subject, new JetStreamRecord(...))` publishes to
 * JetStream (a msg id is required); `send(subject, data)` is core-NATS request/reply.
 */
export class JetStreamClient extends ClientProxy {
  private bus: BusConnection | undefined;
  private publisher: BusPublisher | undefined;

  constructor(private readonly config: Pick<CommonConfig, 'nats' | 'instanceId'>) {
    super();
  }

  /** Opens the NATS connection (named `<instanceId>-client`) on first use; later calls reuse it. */
  async connect(): Promise<BusConnection> {
    if (!this.bus) {
      this.bus = await connectBus(this.config, { name: `${this.config.instanceId}-client` });
      this.publisher = new BusPublisher(this.bus);
    }
    return this.bus;
  }

  /** Drains and closes the connection. */
  async close(): Promise<void> {
    if (this.bus) await closeBus(this.bus);
    this.bus = undefined;
  }

  /** The underlying `NatsConnection` (after connect). */
  unwrap<T>(): T {
    if (!this.bus) throw new Error('JetStreamClient is not connected');
    return this.bus.nc as T;
  }

  /** Not supported: there are no transport events to listen to. */
  override on(): never {
    throw new Error('JetStreamClient does not support event listeners');
  }

  /**
   * `emit()`: a JetStream publish of the record's payload with its `Nats-Msg-Id`; resolves
   * to the PubAck. @throws PublishError when `data` is not a JetStreamRecord (a msg id is
   * required) or JetStream does not acknowledge.
   */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    if (!(packet.data instanceof JetStreamRecord))
      throw new PublishError(
        String(packet.pattern),
        'emit() needs a JetStreamRecord: a msg id is required to publish to JetStream',
      );
    await this.connect();
    return (await this.publisher?.publish(
      String(packet.pattern),
      packet.data.payload,
      packet.data.options,
    )) as T;
  }

  /**
   * `send()`: a core-NATS request (protobuf when `data` is a registered protobuf-es message
   * or a JetStreamRecord's payload, JSON otherwise) waiting `nats.rpcTimeoutMs`; the reply
   * is decoded, a remote error arrives as RemoteError.
   */
  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const payload =
      packet.data instanceof JetStreamRecord ? packet.data.payload : payloadOf(packet.data);
    const headers =
      packet.data instanceof JetStreamRecord ? packet.data.options.headers : undefined;
    void this.connect()
      .then(() =>
        this.publisher?.request(String(packet.pattern), payload, {
          timeoutMs: this.config.nats.rpcTimeoutMs,
          ...(headers ? { headers } : {}),
        }),
      )
      .then(
        (response) => callback({ response, isDisposed: true }),
        (err: unknown) => callback({ err, isDisposed: true }),
      );
    return () => undefined;
  }
}
