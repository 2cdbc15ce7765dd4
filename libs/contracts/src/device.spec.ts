import { describe, expect, it } from 'vitest';
import {
  RPC_SUBJECTS,
  STREAM_SUBJECTS,
  deviceSyncSubject,
  mayPublish,
  mayReceive,
  subjectPermitted,
} from './catalog.js';
import { syncEnvelope } from './device.js';

describe('device-sync in the catalog', () => {
  it('keeps the DEVICE stream to announcements, so device.* requests are never stored', () => {
    const announcement = deviceSyncSubject('org', 'user');
    expect(subjectPermitted([STREAM_SUBJECTS.device], announcement)).toBe(true);
    for (const s of Object.values(RPC_SUBJECTS).filter((x) => x.startsWith('device.')))
      expect(subjectPermitted([STREAM_SUBJECTS.device], s), s).toBe(false);
    expect(mayPublish('device-sync', announcement)).toBe(true);
    expect(mayPublish('gateway', announcement)).toBe(false);
    expect(mayReceive('gateway', announcement)).toBe(true);
    expect(mayReceive('device-sync', RPC_SUBJECTS.pushBlob)).toBe(true);
    expect(() => deviceSyncSubject('org.x', 'user')).toThrow();
  });

  it('refuses an envelope with an unknown algorithm, extra fields or no signature', () => {
    const ok = {
      v: 1,
      alg: 'xchacha20poly1305',
      kid: 'k1',
      nonce: Buffer.alloc(24).toString('base64'),
      ct: Buffer.alloc(32).toString('base64'),
      seq: 1,
      prev: '0'.repeat(64),
      device: '11111111-1111-4111-8111-111111111111',
      sig: Buffer.alloc(64).toString('base64'),
    };
    expect(syncEnvelope.safeParse(ok).success).toBe(true);
    expect(syncEnvelope.safeParse({ ...ok, alg: 'none' }).success).toBe(false);
    expect(syncEnvelope.safeParse({ ...ok, plaintext: 'hi' }).success).toBe(false);
    const { sig: _sig, ...unsigned } = ok;
    expect(syncEnvelope.safeParse(unsigned).success).toBe(false);
    expect(syncEnvelope.safeParse({ ...ok, v: 2 }).success).toBe(false);
  });
});
