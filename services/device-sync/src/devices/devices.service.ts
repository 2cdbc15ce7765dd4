import {
  ConsentRequiredError,
  DeviceNotFoundError,
  type DeviceRecord,
  EnvelopeInvalidError,
  type ListDevices,
  type RegisterDevice,
  type RevokeDevice,
  type RpcHandled,
} from '@heady/contracts';
import { publicKeyProblem } from '@heady/device-client';
import { Inject, Injectable } from '@nestjs/common';
import { PrivacyAuditRepository } from '../audit/audit.repository.js';
import { ConsentsRepository } from '../consents/consents.repository.js';
import { UsersRepository } from '../users/users.repository.js';
import { DevicesRepository } from './devices.repository.js';

/** A user's devices: registration with their public keys, listing, revocation (audited). */
@Injectable()
export class DevicesService {
  constructor(
    @Inject(UsersRepository) private readonly users: UsersRepository,
    @Inject(DevicesRepository) private readonly devices: DevicesRepository,
    @Inject(ConsentsRepository) private readonly consents: ConsentsRepository,
    @Inject(PrivacyAuditRepository) private readonly audit: PrivacyAuditRepository,
  ) {}

  /** Registers a device; the user must have granted DEVICE_SYNC (403 CONSENT_REQUIRED otherwise). */
  async register(req: RpcHandled<typeof RegisterDevice>): Promise<DeviceRecord> {
    await this.users.requireInOrg(req.orgId, req.userId);
    if (!(await this.consents.open(req.orgId, req.userId, 'DEVICE_SYNC')))
      throw new ConsentRequiredError('DEVICE_SYNC');
    const problem = publicKeyProblem(req.publicKey);
    if (problem) throw new EnvelopeInvalidError(`publicKey: ${problem}`, { field: 'publicKey' });
    const d = await this.devices.insert(req);
    await this.audit.publish({
      actor: req.actor,
      action: 'DEVICE_REGISTERED',
      target: `user:${req.userId}`,
      status: 'OK',
      details: { orgId: req.orgId, userId: req.userId, deviceId: d.id, alg: req.publicKey.alg },
    });
    return d;
  }

  async list(req: RpcHandled<typeof ListDevices>): Promise<{ devices: DeviceRecord[] }> {
    await this.users.requireInOrg(req.orgId, req.userId);
    return { devices: await this.devices.list(req.orgId, req.userId) };
  }

  /** Revokes a device: its signed requests are refused from the next one on. */
  async revoke(req: RpcHandled<typeof RevokeDevice>): Promise<DeviceRecord> {
    await this.users.requireInOrg(req.orgId, req.userId);
    const d = await this.devices.revoke(req.orgId, req.userId, req.deviceId);
    if (!d) throw new DeviceNotFoundError(req.deviceId);
    await this.audit.publish({
      actor: req.actor,
      action: 'DEVICE_REVOKED',
      target: `user:${req.userId}`,
      status: 'OK',
      details: {
        orgId: req.orgId,
        userId: req.userId,
        deviceId: d.id,
        revokedAfterSeq: d.revokedAfterSeq,
      },
    });
    return d;
  }
}
