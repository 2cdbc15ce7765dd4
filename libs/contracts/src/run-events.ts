import { type JsonObject, toJson } from '@bufbuild/protobuf';
import { type RunEvent, RunEventSchema, RunStatus } from './gen/heady/v1/run_pb.js';
import { RUN_STATUSES, type RunStatusName } from './vocabulary.js';

/** A run status as every surface (REST, run events, CLI) spells it: `RUNNING`, not `RUN_STATUS_RUNNING`. */
export function runStatusName(status: RunStatus): RunStatusName | undefined {
  const name = RunStatus[status];
  return (RUN_STATUSES as readonly string[]).includes(name) ? (name as RunStatusName) : undefined;
}

/**
 * A run event as JSON for clients (the SSE stream): protobuf's JSON form, with the status
 * spelled as REST spells it.
 */
export function runEventJson(ev: RunEvent): JsonObject {
  const json = toJson(RunEventSchema, ev) as JsonObject;
  const status = runStatusName(ev.status);
  return status ? { ...json, status } : json;
}
