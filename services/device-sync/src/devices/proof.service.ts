import { type DeviceProof, DeviceProofInvalidError, type DeviceRecord } from '@heady/contracts';
import { type DeviceSyncConfig } from '@heady/config';
import { deviceVerify, proofMessage, unb64 } from '@heady/device-client';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { DevicesRepository } from './devices.repository.js';

/** How often, at most, old nonces are pruned (by whichever request comes then). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Checks a device's proof of possession over one request: the device is the user's and
 * not revoked, the timestamp is within the clock window, the signature over method, path,
 * body digest, timestamp and nonce verifies with the device's key, and the nonce was not
 * used before (replays are refused). Nonces are remembered for twice the window.
 */
@Injectable()
export class ProofService {
  private lastPrune = 0;

  constructor(
    @Inject(DevicesRepository) private readonly devices: DevicesRepository,
    @Inject(CONFIG) private readonly config: DeviceSyncConfig,
  ) {}

  /** The verified device; throws {@link DeviceProofInvalidError} with its reason otherwise. */
  async verify(orgId: string, userId: string, proof: DeviceProof): Promise<DeviceRecord> {
    const device = await this.devices.find(orgId, userId, proof.deviceId);
    if (!device)
      throw new DeviceProofInvalidError(
        'unknown-device',
        'the request is signed by no device of this user',
      );
    if (device.revokedAt)
      throw new DeviceProofInvalidError(
        'revoked',
        `device ${device.id} was revoked at ${device.revokedAt}`,
      );
    const skew = this.config.device.proofSkewMs;
    if (Math.abs(Date.now() - proof.timestamp) > skew)
      throw new DeviceProofInvalidError(
        'stale',
        `the request's timestamp is more than ${skew} ms from the server's clock`,
      );
    if (
      this.config.device.verifySignatures &&
      !deviceVerify(device.publicKey, proofMessage(proof), unb64(proof.signature))
    )
      throw new DeviceProofInvalidError(
        'bad-signature',
        "the request's signature does not verify with the device's key",
      );
    if (!(await this.devices.useNonce(device.id, proof.nonce)))
      throw new DeviceProofInvalidError('replayed', 'this request was already received (replay)');
    await this.devices.seen(device.id);
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await this.devices.pruneNonces(2 * skew);
    }
    return device;
  }
}
