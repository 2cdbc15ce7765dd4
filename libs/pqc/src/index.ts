export {
  COMPOSITE_LABEL,
  COMPOSITE_PREFIX,
  COMPOSITE_PUBLIC_KEY_BYTES,
  COMPOSITE_SECRET_KEY_BYTES,
  COMPOSITE_SIGNATURE_BYTES,
  compositeKeygen,
  compositeMessage,
  compositeSign,
  compositeVerify,
  keyId,
  splitPublicKey,
  splitSignature,
  type CompositeKeyPair,
} from './composite.js';
export {
  CLASSIFICATIONS,
  fieldsDigest,
  formatReplayOf,
  parseReplayOf,
  payloadDigest,
  type Classification,
  type ReplayReference,
  type SignedFields,
} from './fields.js';
export {
  decodeProof,
  encodeProof,
  leafHash,
  merkleTree,
  verifyInclusion,
  type InclusionProof,
} from './merkle.js';
export { BatchSigner, type BatchSignature, type BatchSignerOptions } from './batch-signer.js';
export {
  DEFAULT_RECIPIENTS,
  DEFAULT_SUBJECTS,
  b64,
  recipientOf,
  issueCertificate,
  revoke,
  rotationRequest,
  subjectPermitted,
  verifyRotationRequest,
  type RotationRequest,
  unb64,
  verifyCertificate,
  verifyRevocation,
  type Certificate,
  type Revocation,
} from './certs.js';
export { MessageSigner, SigHeader, type SignInput } from './signer.js';
export {
  MessageVerifier,
  RejectReason,
  replyMsgId,
  type ReplyBinding,
  type KeyResolver,
  type VerifierOptions,
  type VerifyInput,
  type VerifyResult,
} from './verifier.js';
export {
  ensureDevKeys,
  initRoot,
  issueIdentity,
  loadIdentity,
  loadRoot,
  loadRootPublicKey,
  newEpoch,
  type IdentityFile,
  type RootKeyFile,
} from './keystore.js';
export {
  SEALED_ALGORITHM,
  SealedError,
  kemKeygen,
  openPayload,
  sealPayload,
  sealedKeyRef,
} from './sealed.js';
export { KemKeyStore, type KemKeyStoreOptions } from './kem-store.js';
