import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { RunEventSchema, RunStatus } from './gen/heady/v1/run_pb.js';
import { runEventJson, runStatusName } from './run-events.js';

describe(runEventJson.name, () => {
  it('spells the status as REST does', () => {
    const ev = create(RunEventSchema, {
      runId: 'r1',
      event: 'run.started',
      status: RunStatus.RUNNING,
    });
    expect(runEventJson(ev)).toMatchObject({
      runId: 'r1',
      event: 'run.started',
      status: 'RUNNING',
    });
    expect(runStatusName(RunStatus.COMPENSATED)).toBe('COMPENSATED');
    expect(runStatusName(RunStatus.UNSPECIFIED)).toBeUndefined();
  });
});
