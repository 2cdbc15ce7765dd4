import { describe, expect, it } from 'vitest';
import { RunStatus } from './gen/heady/v1/run_pb.js';
import { compensationCommand, compensationSubject } from './stages.js';
import { STAGE_NAMES } from './vocabulary.js';

const ref = {
  runId: 'r1',
  iteration: 0,
  itinerary: [...STAGE_NAMES],
  end: RunStatus.COMPENSATED,
  reason: 'execute: boom',
  failedStage: 'execute',
};

describe('compensationCommand', () => {
  it('undoes the last completed stage of the slip, carrying what is still to undo', () => {
    const cmd = compensationCommand(ref, ['channel-entry', 'ingest', 'plan']);
    expect(cmd).toMatchObject({
      runId: 'r1',
      stage: 'plan',
      stageNum: 2,
      iteration: 0,
      slip: { itinerary: [...STAGE_NAMES], completed: ['channel-entry', 'ingest', 'plan'] },
      end: RunStatus.COMPENSATED,
      reason: 'execute: boom',
      failedStage: 'execute',
    });
    expect(compensationSubject('plan')).toBe('pipeline.compensate.plan');
  });

  it('is none when nothing is left to undo', () => {
    expect(compensationCommand(ref, [])).toBeUndefined();
  });
});
