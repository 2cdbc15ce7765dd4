import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { STREAM_SUBJECTS } from './catalog.js';
import { type Task, TaskSchema } from './gen/heady/v1/work_pb.js';
import { type TaskKind } from './vocabulary.js';

/** `work.` — the prefix of the subject a group's tasks are published on. */
export const WORK_SUBJECT_PREFIX = STREAM_SUBJECTS.work.slice(0, -1);

/** `work.<group>`: where a service group's tasks are published (WORK stream). */
export function workSubject(group: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(group)) throw new Error(`not a service group name: "${group}"`);
  return `${WORK_SUBJECT_PREFIX}${group}`;
}

/** The idempotency key of one task (its Nats-Msg-Id): `<run_id>:<iteration>:<task_id>:task`. */
export function taskMsgId(t: Pick<Task, 'runId' | 'iteration' | 'taskId'>): string {
  return `${t.runId}:${t.iteration}:${t.taskId}:task`;
}

/** What a task is built from. */
export interface TaskInit {
  runId: string;
  taskId: string;
  group: string;
  kind: TaskKind;
  iteration?: number;
  input: JsonObject;
  maxTokens?: number;
  timeoutMs?: number;
}

/** A task for `work.<group>`. */
export function task(t: TaskInit): Task {
  return create(TaskSchema, {
    runId: t.runId,
    taskId: t.taskId,
    group: t.group,
    kind: t.kind,
    iteration: t.iteration ?? 0,
    input: t.input,
    budget: { maxTokens: t.maxTokens ?? 0, timeoutMs: t.timeoutMs ?? 0 },
    issuedAt: timestampNow(),
  });
}
