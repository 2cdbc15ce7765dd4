import { BusPublisher } from '@heady/bus';
import { type SyncHead, deviceSyncSubject } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

/**
 * Announces a new blob on `device.sync.<orgId>.<userId>` (DEVICE stream): its seq, hash and
 * writing device only, never the envelope. `Nats-Msg-Id` is the blob's hash, so a retried
 * announcement is dropped by the duplicate window.
 */
@Injectable()
export class AnnouncementsRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async announce(orgId: string, userId: string, head: SyncHead, deviceId: string): Promise<void> {
    await this.bus.publish(
      deviceSyncSubject(orgId, userId),
      { json: { seq: head.seq, hash: head.hash, device: deviceId } },
      { msgId: `sync:${head.hash}`, expectStream: 'DEVICE' },
    );
  }
}
