import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { BusPublisher, eventMsgId } from '@heady/bus';
import { type RunEventName, RunEventSchema, RunStatus, runEventSubject } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

export type { RunEventName };

export interface RunEventInput {
  runId: string;
  event: RunEventName;
  stage: string;
  stageNum: number;
  iteration: number;
  attempt: number;
  status?: RunStatus;
  error?: string;
  detail?: Record<string, unknown>;
}

/** Publishes run events to RUN_EVENTS with an id made of what the event means, so a re-emit is dropped. */
@Injectable()
export class RunEvents {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  async publish(e: RunEventInput): Promise<void> {
    const message = create(RunEventSchema, {
      runId: e.runId,
      event: e.event,
      stage: e.stage,
      stageNum: e.stageNum,
      attempt: e.attempt,
      status: e.status ?? RunStatus.RUNNING,
      error: e.error ?? '',
      detail: (e.detail ?? {}) as JsonObject,
      at: timestampNow(),
    });
    // stage.started and stage.failed happen once per attempt; the others once per stage execution.
    const perAttempt = e.event === 'stage.started' || e.event === 'stage.failed';
    const msgId = eventMsgId(
      e.runId,
      e.event,
      e.stage,
      String(e.iteration),
      ...(perAttempt ? [String(e.attempt)] : []),
    );
    await this.bus.publish(
      runEventSubject(e.runId, e.event),
      { schema: RunEventSchema, message },
      { msgId },
    );
  }
}
