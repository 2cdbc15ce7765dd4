import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { BusPublisher, eventMsgId } from '@heady/bus';
import { RunEventSchema, RunStatus, runEventSubject, stageNum } from '@heady/contracts';
import { type TaskRun } from '@heady/db';
import { Inject, Injectable } from '@nestjs/common';

/**
 * Announces a settled task on its run's events (`runs.<runId>.task.succeeded|failed`), what
 * the execute stage gathers and any subscriber sees. The answer itself stays in `task_runs`
 * (the event carries provider, model and usage, never the output): run events are read by
 * many and a RESTRICTED run's answer must not travel unsealed. Its msg id names the task, so
 * a re-announce within the duplicate window is dropped.
 */
@Injectable()
export class TaskEvents {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async announce(row: TaskRun): Promise<void> {
    if (row.status === 'RUNNING') return;
    const event = row.status === 'SUCCEEDED' ? 'task.succeeded' : 'task.failed';
    const message = create(RunEventSchema, {
      runId: row.run_id,
      event,
      stage: 'execute',
      stageNum: stageNum('execute'),
      attempt: row.attempts,
      status: RunStatus.RUNNING,
      error: row.error ?? '',
      detail: {
        taskId: row.task_id,
        group: row.group_name,
        kind: row.kind,
        provider: row.provider,
        model: row.model,
        usage: { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens },
        tried: row.tried,
      } as JsonObject,
      at: timestampNow(),
    });
    await this.bus.publish(
      runEventSubject(row.run_id, event),
      { schema: RunEventSchema, message },
      { msgId: eventMsgId(row.run_id, event, row.task_id, String(row.iteration)) },
    );
  }
}
