import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  type CompensationCommand,
  CompensationCommandSchema,
  type RunStatus,
  type StageCommand,
  StageCommandSchema,
} from './gen/heady/v1/run_pb.js';
import { COMPENSATION_SUBJECT_PREFIX, RUN_EVENTS_PREFIX, STAGE_SUBJECT_PREFIX } from './catalog.js';
import { type RunEventName, STAGE_NAMES, type StageName } from './vocabulary.js';

/** Position of a stage in the itinerary (0 = channel-entry … 8 = monitor). */
export function stageNum(stage: StageName): number {
  return STAGE_NAMES.indexOf(stage);
}

/** True when `name` is one of the nine stage names. */
export function isStageName(name: string): name is StageName {
  return (STAGE_NAMES as readonly string[]).includes(name);
}

/** The subject a stage consumes its commands from: `pipeline.stage.<stage>`. */
export function stageSubject(stage: StageName): string {
  return `${STAGE_SUBJECT_PREFIX}${stage}`;
}

/** The subject a stage's compensation consumer takes its commands from: `pipeline.compensate.<stage>`. */
export function compensationSubject(stage: StageName): string {
  return `${COMPENSATION_SUBJECT_PREFIX}${stage}`;
}

/** The subject of a run event: `runs.<runId>.<event>`. */
export function runEventSubject(runId: string, event: RunEventName): string {
  return `${RUN_EVENTS_PREFIX}${runId}.${event}`;
}

/** Every event of one run: `runs.<runId>.>`. */
export function runEventsOf(runId: string): string {
  return `${RUN_EVENTS_PREFIX}${runId}.>`;
}

/** What a stage command says about its run. */
export interface RunRef {
  runId: string;
  action: string;
  group: string;
  seed: bigint;
}

/** The command that starts `stage` of a run, carrying the routing slip (itinerary + completed). */
export function stageCommand(
  run: RunRef,
  stage: StageName,
  iteration: number,
  completed: readonly string[],
): StageCommand {
  return create(StageCommandSchema, {
    runId: run.runId,
    stage,
    stageNum: stageNum(stage),
    iteration,
    action: run.action,
    group: run.group,
    seed: run.seed,
    slip: { itinerary: [...STAGE_NAMES], completed: [...completed] },
    issuedAt: timestampNow(),
  });
}

/** The stage after `stage` on the command's itinerary, or undefined at the end. */
export function nextStage(cmd: StageCommand): StageName | undefined {
  const itinerary = cmd.slip?.itinerary ?? [...STAGE_NAMES];
  const next = itinerary[itinerary.indexOf(cmd.stage) + 1];
  return next && isStageName(next) ? next : undefined;
}

/** What a compensation command says about why and how its run is undone. */
export interface CompensationRef {
  runId: string;
  iteration: number;
  itinerary: readonly string[];
  end: RunStatus;
  reason: string;
  failedStage: string;
}

/**
 * The command that undoes the last stage of `completed` (the routing slip's completed stages
 * still to undo), or undefined when nothing is left to undo.
 */
export function compensationCommand(
  ref: CompensationRef,
  completed: readonly string[],
): CompensationCommand | undefined {
  const stage = completed.at(-1);
  if (!stage || !isStageName(stage)) return undefined;
  return create(CompensationCommandSchema, {
    runId: ref.runId,
    stage,
    stageNum: stageNum(stage),
    iteration: ref.iteration,
    slip: { itinerary: [...ref.itinerary], completed: [...completed] },
    end: ref.end,
    reason: ref.reason,
    failedStage: ref.failedStage,
    issuedAt: timestampNow(),
  });
}
