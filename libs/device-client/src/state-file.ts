import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DeviceState } from './client.js';
import { b64, unb64 } from './wire.js';

interface StoredState {
  userId: string;
  deviceId: string | undefined;
  keys: {
    alg: DeviceState['keys']['alg'];
    signSecret: string;
    signPublic: string;
    kemSecret: string;
    kemPublic: string;
  };
  keyring: Record<string, string>;
  currentKid: string | undefined;
  head: DeviceState['head'];
}

/** Writes a device's state (its secret keys included) to `file`, mode 600. */
export function saveDeviceState(file: string, s: DeviceState): void {
  const stored: StoredState = {
    userId: s.userId,
    deviceId: s.deviceId,
    keys: {
      alg: s.keys.alg,
      signSecret: b64(s.keys.signSecret),
      signPublic: b64(s.keys.signPublic),
      kemSecret: b64(s.keys.kemSecret),
      kemPublic: b64(s.keys.kemPublic),
    },
    keyring: Object.fromEntries(Object.entries(s.keyring).map(([k, v]) => [k, b64(v)])),
    currentKid: s.currentKid,
    head: s.head,
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Reads a device's state written by {@link saveDeviceState}. */
export function loadDeviceState(file: string): DeviceState {
  const s = JSON.parse(readFileSync(file, 'utf8')) as StoredState;
  return {
    userId: s.userId,
    deviceId: s.deviceId,
    keys: {
      alg: s.keys.alg,
      signSecret: unb64(s.keys.signSecret),
      signPublic: unb64(s.keys.signPublic),
      kemSecret: unb64(s.keys.kemSecret),
      kemPublic: unb64(s.keys.kemPublic),
    },
    keyring: Object.fromEntries(Object.entries(s.keyring).map(([k, v]) => [k, unb64(v)])),
    currentKid: s.currentKid,
    head: s.head,
  };
}
