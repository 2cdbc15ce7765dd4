// Generated protobuf-es code for everything on the bus (from /proto), plus helpers.
export * from './gen/heady/v1/run_pb.js';
export * from './gen/heady/v1/audit_pb.js';
export * from './gen/heady/v1/billing_pb.js';
export { TIER_CHANGED_SUBJECT } from './billing.js';
export { banKey, rejectionsKey, type BanRecord, type BanSubject } from './bans.js';
export { registry, typeNameOf, contentTypeFor, parseContentType } from './registry.js';
export {
  ErrorCode,
  HeadyError,
  IdempotencyConflictError,
  RunNotFoundError,
  RunEndedError,
  UnknownActionError,
  UnauthenticatedError,
  ForbiddenError,
  ApiKeyNotFoundError,
  RateLimitedError,
  BannedError,
  IdempotencyInFlightError,
  isHeadyError,
} from './errors.js';
export {
  STAGE_NAMES,
  compensationCommand,
  compensationSubject,
  isStageName,
  nextStage,
  runEventSubject,
  stageCommand,
  stageNum,
  stageSubject,
  type CompensationRef,
  type RunRef,
  type StageName,
} from './stages.js';
