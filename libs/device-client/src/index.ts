export {
  DeviceApiError,
  DeviceClient,
  type DeviceClientOptions,
  type DeviceState,
  type PulledBlob,
} from './client.js';
export {
  EMPTY_HEAD,
  SyncIntegrityError,
  isSyncIntegrityError,
  verifyPage,
  type IntegrityKind,
} from './chain.js';
export {
  decrypt,
  encrypt,
  generateDeviceKeys,
  newContentKey,
  openContentKey,
  publicKeyOf,
  sealContentKey,
  type DeviceKeys,
} from './keys.js';
export {
  ProofHeader,
  b64,
  bodyDigest,
  deviceSign,
  deviceVerify,
  envelopeHash,
  envelopeMessage,
  keyShareMessage,
  proofMessage,
  publicKeyProblem,
  unb64,
} from './wire.js';
export { loadDeviceState, saveDeviceState } from './state-file.js';
