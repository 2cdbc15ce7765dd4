import { type CommonConfig } from '@heady/config';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { type Payload } from '../codec.js';
import { type BusConnection, closeBus, connectBus } from '../connection.js';
import { BusPublisher } from '../publisher.js';

/** What `client.emit(subject, record)` publishes: the payload and its meaning-derived msg id. */
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

  async connect(): Promise<BusConnection> {
    if (!this.bus) {
      this.bus = await connectBus(this.config, `${this.config.instanceId}-client`);
      this.publisher = new BusPublisher(this.bus);
    }
    return this.bus;
  }

  async close(): Promise<void> {
    if (this.bus) await closeBus(this.bus);
    this.bus = undefined;
  }

  unwrap<T>(): T {
    if (!this.bus) throw new Error('JetStreamClient is not connected');
    return this.bus.nc as T;
  }

  override on(): never {
    throw new Error('JetStreamClient does not support event listeners');
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    await this.connect();
    if (!(packet.data instanceof JetStreamRecord))
      throw new Error('emit() needs a JetStreamRecord carrying a msg id');
    return (await this.publisher?.publish(
      String(packet.pattern),
      packet.data.payload,
      packet.data.options,
    )) as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    void this.connect()
      .then(() =>
        this.publisher?.request(
          String(packet.pattern),
          { json: packet.data },
          { timeoutMs: this.config.nats.rpcTimeoutMs },
        ),
      )
      .then(
        (response) => callback({ response, isDisposed: true }),
        (err: unknown) => callback({ err, isDisposed: true }),
      );
    return () => undefined;
  }
}
