import { type DynamicModule, Module } from '@nestjs/common';
import { PrivacyAuditRepository } from './audit/audit.repository.js';
import { ConsentsController } from './consents/consents.controller.js';
import { ConsentsRepository } from './consents/consents.repository.js';
import { ConsentsService } from './consents/consents.service.js';
import { TrackingRepository } from './consents/tracking.repository.js';
import { DevicesController } from './devices/devices.controller.js';
import { DevicesRepository } from './devices/devices.repository.js';
import { DevicesService } from './devices/devices.service.js';
import { ProofService } from './devices/proof.service.js';
import { AnnouncementsRepository } from './sync/announcements.repository.js';
import { BlobsRepository } from './sync/blobs.repository.js';
import { KeySharesRepository } from './sync/key-shares.repository.js';
import { SyncController } from './sync/sync.controller.js';
import { SyncService } from './sync/sync.service.js';
import { UsersRepository } from './users/users.repository.js';

/**
 * Device sync and privacy: consents and tracking, devices and their signed requests, each
 * user's end-to-end encrypted sync log. Request/reply only (`device.*`, queue group
 * `device-sync`); the gateway is its REST door.
 */
@Module({})
export class DeviceSyncModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: DeviceSyncModule,
      imports: [runtime],
      controllers: [ConsentsController, DevicesController, SyncController],
      providers: [
        UsersRepository,
        PrivacyAuditRepository,
        ConsentsRepository,
        TrackingRepository,
        ConsentsService,
        DevicesRepository,
        ProofService,
        DevicesService,
        BlobsRepository,
        KeySharesRepository,
        AnnouncementsRepository,
        SyncService,
      ],
    };
  }
}
