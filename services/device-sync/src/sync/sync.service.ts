import {
  EnvelopeInvalidError,
  type KeySharesReply,
  type ListBlobs,
  type ListBlobsReply,
  type ListKeyShares,
  type PushBlob,
  type PushBlobReply,
  type PutKeyShares,
  type RpcHandled,
  SyncConflictError,
  type SyncEnvelope,
  syncEnvelope,
  DeviceNotFoundError,
} from '@heady/contracts';
import { type DeviceSyncConfig } from '@heady/config';
import { deviceVerify, envelopeHash, envelopeMessage, unb64 } from '@heady/device-client';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { DevicesRepository } from '../devices/devices.repository.js';
import { ProofService } from '../devices/proof.service.js';
import { UsersRepository } from '../users/users.repository.js';
import { AnnouncementsRepository } from './announcements.repository.js';
import { BlobsRepository } from './blobs.repository.js';
import { KeySharesRepository } from './key-shares.repository.js';

/**
 * Each user's sync log: device-signed, end-to-end encrypted envelopes in a hash chain. The
 * server checks the envelope's form and signature and that it continues the head, never
 * its content (it holds no key to it).
 */
@Injectable()
export class SyncService {
  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(ProofService) private readonly proofs: ProofService,
    @Inject(DevicesRepository) private readonly devices: DevicesRepository,
    @Inject(BlobsRepository) private readonly blobs: BlobsRepository,
    @Inject(KeySharesRepository) private readonly shares: KeySharesRepository,
    @Inject(AnnouncementsRepository) private readonly announcements: AnnouncementsRepository,
    @Inject(CONFIG) private readonly config: DeviceSyncConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** The envelope, or {@link EnvelopeInvalidError} naming what is wrong with it. */
  private envelopeOf(value: unknown): SyncEnvelope {
    const r = syncEnvelope.safeParse(value);
    if (!r.success) {
      const errors = r.error.issues.map((i) => ({
        path: i.path.map(String).join('.'),
        message: i.message,
      }));
      throw new EnvelopeInvalidError(
        `not an end-to-end encrypted sync envelope (v1): ${errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; ')}`,
        { errors },
      );
    }
    if (unb64(r.data.nonce).length !== 24)
      throw new EnvelopeInvalidError('nonce: an XChaCha20-Poly1305 nonce is 24 bytes');
    if (unb64(r.data.ct).length < 17)
      throw new EnvelopeInvalidError('ct: shorter than a Poly1305 tag and one byte');
    return r.data;
  }

  /**
   * Appends a blob: the request proved by the device, the envelope valid and signed by that
   * same device, and continuing the log's head (else 409 with the head). Announced after it
   * is stored; a failed announcement is logged (clients catch up by pulling).
   */
  async push(req: RpcHandled<typeof PushBlob>): Promise<PushBlobReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const device = await this.proofs.verify(req.orgId, req.userId, req.proof);
    const e = this.envelopeOf(req.envelope);
    if (e.device !== device.id)
      throw new EnvelopeInvalidError('device: the envelope names another device than the request');
    const { sig, ...signed } = e;
    if (
      this.config.device.verifySignatures &&
      !deviceVerify(device.publicKey, envelopeMessage(req.userId, signed), unb64(sig))
    )
      throw new EnvelopeInvalidError("sig: the envelope's signature does not verify");
    const hash = envelopeHash(req.userId, e);
    if (!(await this.blobs.append(req.orgId, req.userId, e, hash)))
      throw new SyncConflictError(await this.blobs.head(req.orgId, req.userId));
    const head = { seq: e.seq, hash };
    await this.announcements
      .announce(req.orgId, req.userId, head, device.id)
      .catch((err: unknown) =>
        this.log.warn({ err, seq: e.seq }, 'could not announce a sync blob'),
      );
    return { head };
  }

  async list(req: RpcHandled<typeof ListBlobs>): Promise<ListBlobsReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    await this.proofs.verify(req.orgId, req.userId, req.proof);
    const [blobs, head] = await Promise.all([
      this.blobs.after(req.orgId, req.userId, req.after, req.limit),
      this.blobs.head(req.orgId, req.userId),
    ]);
    return { blobs, head };
  }

  /** Stores content key shares from the proving device to devices of the same user. */
  async putKeys(req: RpcHandled<typeof PutKeyShares>): Promise<{ stored: number }> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const from = await this.proofs.verify(req.orgId, req.userId, req.proof);
    const mine = new Set(
      (await this.devices.list(req.orgId, req.userId))
        .filter((d) => d.revokedAt === null)
        .map((d) => d.id),
    );
    for (const s of req.shares)
      if (!mine.has(s.deviceId)) throw new DeviceNotFoundError(s.deviceId);
    return { stored: await this.shares.put(req.orgId, req.userId, req.kid, from.id, req.shares) };
  }

  async listKeys(req: RpcHandled<typeof ListKeyShares>): Promise<KeySharesReply> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const device = await this.proofs.verify(req.orgId, req.userId, req.proof);
    return { shares: await this.shares.forDevice(req.orgId, req.userId, device.id) };
  }
}
