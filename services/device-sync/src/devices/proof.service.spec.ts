import { type DeviceSyncConfig } from '@heady/config';
import { type DeviceRecord, DeviceProofInvalidError } from '@heady/contracts';
import { DeviceClient, publicKeyOf } from '@heady/device-client';
import { describe, expect, it } from 'vitest';
import { type DevicesRepository } from './devices.repository.js';
import { ProofService } from './proof.service.js';

const ORG = '00000000-0000-4000-8000-00000000000a';
const USER = '00000000-0000-4000-8000-00000000000b';
const ID = '00000000-0000-4000-8000-00000000000c';

/** A device and a ProofService over an in-memory stand-in for its repository. */
function setup(device: Partial<DeviceRecord> = {}) {
  const client = DeviceClient.create({ baseUrl: 'http://x', apiKey: 'hk_x' }, USER);
  client.state.deviceId = ID;
  const record: DeviceRecord = {
    id: ID,
    name: 'd',
    publicKey: publicKeyOf(client.state.keys),
    createdAt: new Date().toISOString(),
    lastSeenAt: null,
    revokedAt: null,
    revokedAfterSeq: null,
    ...device,
  };
  const nonces = new Set<string>();
  const repo = {
    find: (_o: string, _u: string, id: string) => Promise.resolve(id === ID ? record : undefined),
    useNonce: (_d: string, n: string) => Promise.resolve(!nonces.has(n) && !!nonces.add(n)),
    seen: () => Promise.resolve(),
    pruneNonces: () => Promise.resolve(0),
  } as unknown as DevicesRepository;
  const config = {
    device: { proofSkewMs: 60_000, verifySignatures: true, trackingProperties: [] },
  } as unknown as DeviceSyncConfig;
  const proofOf = (path: string, body = '', at = Date.now()) => {
    const h = client.proofHeaders('POST', path, body);
    return {
      deviceId: ID,
      timestamp: at === Date.now() ? Number(h['x-heady-device-timestamp']) : at,
      nonce: h['x-heady-device-nonce'] ?? '',
      signature: h['x-heady-device-signature'] ?? '',
      method: 'POST' as const,
      path,
      bodyDigest: '0'.repeat(64),
    };
  };
  return { service: new ProofService(repo, config), proofOf, client };
}

async function reason(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof DeviceProofInvalidError ? String(e.details.reason) : String(e);
  }
}

describe(ProofService.name, () => {
  it('accepts a proof once, and refuses its replay', async () => {
    const { service, client } = setup();
    const h = client.proofHeaders('GET', '/api/device-sync', '');
    const proof = {
      deviceId: ID,
      timestamp: Number(h['x-heady-device-timestamp']),
      nonce: h['x-heady-device-nonce'] ?? '',
      signature: h['x-heady-device-signature'] ?? '',
      method: 'GET' as const,
      path: '/api/device-sync',
      bodyDigest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    expect(await reason(service.verify(ORG, USER, proof))).toBeUndefined();
    expect(await reason(service.verify(ORG, USER, proof))).toBe('replayed');
    // the same signature over another path or body does not verify
    expect(
      await reason(service.verify(ORG, USER, { ...proof, nonce: 'another-nonce-123', path: '/x' })),
    ).toBe('bad-signature');
  });

  it('refuses an unknown or revoked device and a stale timestamp', async () => {
    const { service, proofOf } = setup();
    expect(await reason(service.verify(ORG, USER, { ...proofOf('/p'), deviceId: ORG }))).toBe(
      'unknown-device',
    );
    expect(await reason(service.verify(ORG, USER, proofOf('/p', '', Date.now() - 120_000)))).toBe(
      'stale',
    );
    const revoked = setup({ revokedAt: new Date().toISOString(), revokedAfterSeq: 3 });
    expect(await reason(revoked.service.verify(ORG, USER, revoked.proofOf('/p')))).toBe('revoked');
  });
});
