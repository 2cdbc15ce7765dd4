import { BusPublisher, decode, Header, verifyDelivered } from '@heady/bus';
import { deviceSyncSubject } from '@heady/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** A new blob of a user's sync log, as announced (never its content). */
export interface SyncAnnouncement {
  seq: number;
  hash: string;
  device: string;
}

/** A stream's consumer the server drops by itself when nothing pulls from it for this long. */
const ABANDONED_AFTER_MS = 60_000;

/**
 * Follows `device.sync.<orgId>.<userId>` on DEVICE from now on, with an ephemeral consumer
 * of its own (deleted when the stream ends); each announcement is verified (signed by
 * device-sync) before it is yielded, one that fails is skipped.
 */
@Injectable()
export class DeviceEventsRepository {
  private jsm: JetStreamManager | undefined;

  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async *follow(
    orgId: string,
    userId: string,
    signal: AbortSignal,
  ): AsyncGenerator<SyncAnnouncement> {
    if (signal.aborted) return;
    const nc = this.bus.connection.nc;
    this.jsm ??= await jetstreamManager(nc, { checkAPI: false });
    const jsm = this.jsm;
    const name = `sse_dev_${randomUUID().replaceAll('-', '')}`;
    try {
      await jsm.consumers.add('DEVICE', {
        name,
        filter_subject: deviceSyncSubject(orgId, userId),
        deliver_policy: DeliverPolicy.New,
        ack_policy: AckPolicy.None,
        inactive_threshold: nanos(ABANDONED_AFTER_MS),
        mem_storage: true,
        num_replicas: 1,
      });
      if (signal.aborted) return;
      const consumer = await jetstream(nc).consumers.get('DEVICE', name);
      const messages = await consumer.consume({ max_messages: 256 });
      const stop = () => void messages.close();
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of messages) {
          const verifier = this.bus.verifier;
          if (verifier && !(await verifyDelivered(verifier, m)).ok) continue;
          yield decode(m.headers?.get(Header.ContentType), m.data) as SyncAnnouncement;
        }
      } finally {
        signal.removeEventListener('abort', stop);
        stop();
      }
    } finally {
      await jsm.consumers.delete('DEVICE', name).catch(() => undefined);
    }
  }
}
