import { PermanentError, RetryableError } from '@heady/bus';
import { type StageCommand } from '@heady/contracts';
import { type PipelineRun, type RunStatus, type StageRun, type StageStatus } from '@heady/db';
import { describe, expect, it } from 'vitest';
import {
  type Decision,
  type FailureDecision,
  decide,
  decideAfterSuccess,
  decideFailure,
} from './stage-decision.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function run(status: RunStatus, more: Partial<PipelineRun> = {}): PipelineRun {
  return {
    id: 'r1',
    status,
    error: null,
    cancel_requested_at: null,
    options: {},
    created_at: new Date(NOW - 1_000),
    ...more,
  } as PipelineRun;
}

function row(status: StageStatus, more: Partial<StageRun> = {}): StageRun {
  return { id: 's1', status, attempts: 3, error: null, ...more } as StageRun;
}

function cmd(stage: string): StageCommand {
  return { runId: 'r1', stage, stageNum: 2, iteration: 0 } as StageCommand;
}

const compensate = (
  cause: 'failed' | 'cancel' | 'deadline' | 'ended',
  reason: string,
  end: 'COMPENSATED' | 'CANCELLED' = 'COMPENSATED',
): Decision => ({ kind: 'compensate', cause, reason, end });

// Every outcome of a delivery of a stage command, from the run's row and the stage's row.
const TABLE: [string, Parameters<typeof decide>[0], Decision][] = [
  // what cannot run at all
  [
    'unknown stage',
    { cmd: cmd('nope'), run: run('RUNNING'), row: undefined, now: NOW },
    { kind: 'reject', reason: 'unknown stage "nope"' },
  ],
  [
    'no such run',
    { cmd: cmd('plan'), run: undefined, row: undefined, now: NOW },
    { kind: 'reject', reason: 'run r1 does not exist' },
  ],
  // run
  [
    'first delivery of a going run',
    { cmd: cmd('plan'), run: run('RUNNING'), row: undefined, now: NOW },
    { kind: 'run' },
  ],
  [
    'PENDING run (channel entry admits it)',
    { cmd: cmd('channel-entry'), run: run('PENDING'), row: undefined, now: NOW },
    { kind: 'run' },
  ],
  [
    'retry of a RUNNING stage',
    { cmd: cmd('plan'), run: run('RUNNING'), row: row('RUNNING'), now: NOW },
    { kind: 'run' },
  ],
  [
    'deadline not yet passed',
    {
      cmd: cmd('plan'),
      run: run('RUNNING', { options: { deadlineMs: 5_000 } }),
      row: undefined,
      now: NOW,
    },
    { kind: 'run' },
  ],
  // skip settled / re-announce while going
  [
    'stage already succeeded: re-announce its successor',
    { cmd: cmd('plan'), run: run('RUNNING'), row: row('SUCCEEDED'), now: NOW },
    { kind: 're-announce', attempt: 0 },
  ],
  [
    'stage already undone: skip',
    { cmd: cmd('plan'), run: run('RUNNING'), row: row('COMPENSATED'), now: NOW },
    { kind: 'skip', reason: 'stage already undone' },
  ],
  [
    'stage failed for good: compensate',
    { cmd: cmd('plan'), run: run('RUNNING'), row: row('FAILED', { error: 'boom' }), now: NOW },
    compensate('failed', 'boom'),
  ],
  [
    'stage failed without a message',
    { cmd: cmd('plan'), run: run('RUNNING'), row: row('FAILED'), now: NOW },
    compensate('failed', 'stage failed'),
  ],
  // cancel and deadline
  [
    'cancellation requested',
    {
      cmd: cmd('plan'),
      run: run('RUNNING', { cancel_requested_at: new Date(NOW) }),
      row: row('SUCCEEDED'),
      now: NOW,
    },
    compensate('cancel', 'cancelled on request', 'CANCELLED'),
  ],
  [
    'cancellation of a PENDING run',
    {
      cmd: cmd('channel-entry'),
      run: run('PENDING', { cancel_requested_at: new Date(NOW) }),
      row: undefined,
      now: NOW,
    },
    compensate('cancel', 'cancelled on request', 'CANCELLED'),
  ],
  [
    'deadline passed',
    {
      cmd: cmd('plan'),
      run: run('RUNNING', { options: { deadlineMs: 500 } }),
      row: undefined,
      now: NOW,
    },
    compensate('deadline', 'deadline of 500 ms exceeded'),
  ],
  [
    'cancellation wins over a passed deadline',
    {
      cmd: cmd('plan'),
      run: run('RUNNING', { options: { deadlineMs: 500 }, cancel_requested_at: new Date(NOW) }),
      row: undefined,
      now: NOW,
    },
    compensate('cancel', 'cancelled on request', 'CANCELLED'),
  ],
  // the run ended: re-announce the end when this stage ended it, else skip
  [
    'last stage of a SUCCEEDED run: re-announce run.succeeded',
    { cmd: cmd('monitor'), run: run('SUCCEEDED'), row: row('SUCCEEDED'), now: NOW },
    { kind: 're-announce', attempt: 3 },
  ],
  [
    'earlier stage of a SUCCEEDED run',
    { cmd: cmd('plan'), run: run('SUCCEEDED'), row: row('SUCCEEDED'), now: NOW },
    { kind: 'skip', reason: 'run already SUCCEEDED' },
  ],
  [
    'cancellation of a SUCCEEDED run is past stopping',
    {
      cmd: cmd('monitor'),
      run: run('SUCCEEDED', { cancel_requested_at: new Date(NOW) }),
      row: row('SUCCEEDED'),
      now: NOW,
    },
    { kind: 're-announce', attempt: 3 },
  ],
  [
    'the stage that failed a COMPENSATED run: compensate again',
    {
      cmd: cmd('plan'),
      run: run('COMPENSATED', { error: 'plan: boom' }),
      row: row('FAILED'),
      now: NOW,
    },
    compensate('ended', 'plan: boom'),
  ],
  [
    'the stage that found the run cancelled',
    {
      cmd: cmd('plan'),
      run: run('CANCELLED', { error: 'cancelled on request' }),
      row: row('RUNNING'),
      now: NOW,
    },
    compensate('ended', 'cancelled on request', 'CANCELLED'),
  ],
  [
    'the stage that found the deadline passed, before its attempt',
    { cmd: cmd('plan'), run: run('COMPENSATED'), row: undefined, now: NOW },
    compensate('ended', 'stopped'),
  ],
  [
    'an undone stage of a COMPENSATED run',
    { cmd: cmd('plan'), run: run('COMPENSATED'), row: row('COMPENSATED'), now: NOW },
    { kind: 'skip', reason: 'run already COMPENSATED' },
  ],
  [
    'a FAILED run (a compensation failed)',
    { cmd: cmd('plan'), run: run('FAILED'), row: row('FAILED'), now: NOW },
    { kind: 'skip', reason: 'run already FAILED' },
  ],
  [
    'a FAILED run never admitted',
    { cmd: cmd('channel-entry'), run: run('FAILED'), row: undefined, now: NOW },
    { kind: 'skip', reason: 'run already FAILED' },
  ],
];

describe('decide: what a delivery of a stage command leads to', () => {
  it.each(TABLE)('%s', (_, input, expected) => {
    expect(decide(input)).toEqual(expected);
  });

  it('covers every kind of decision and every cause of compensation', () => {
    const kinds = new Set(
      TABLE.map(([, , d]) => (d.kind === 'compensate' ? `compensate:${d.cause}` : d.kind)),
    );
    expect([...kinds].sort()).toEqual(
      [
        'compensate:cancel',
        'compensate:deadline',
        'compensate:ended',
        'compensate:failed',
        're-announce',
        'reject',
        'run',
        'skip',
      ].sort(),
    );
  });
});

const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
  code: 'ECONNREFUSED',
});
const stop = { end: 'CANCELLED' as const, reason: 'cancelled on request' };

const FAILURES: [string, Parameters<typeof decideFailure>[0], FailureDecision][] = [
  [
    'PostgreSQL unreachable: infrastructure fault',
    { err: outage, stopped: undefined, attempt: 5, maxAttempts: 5 },
    { kind: 'infrastructure' },
  ],
  [
    'an outage while stopped is still an outage',
    { err: outage, stopped: stop, attempt: 1, maxAttempts: 5 },
    { kind: 'infrastructure' },
  ],
  [
    'stopped at a heartbeat',
    { err: new Error('aborted'), stopped: stop, attempt: 1, maxAttempts: 5 },
    { kind: 'stopped', stop },
  ],
  [
    'a failure with attempts left',
    { err: new Error('boom'), stopped: undefined, attempt: 2, maxAttempts: 5 },
    { kind: 'retry' },
  ],
  [
    'a retryable failure with attempts left',
    { err: new RetryableError('later'), stopped: undefined, attempt: 1, maxAttempts: 5 },
    { kind: 'retry' },
  ],
  [
    'the last attempt',
    { err: new Error('boom'), stopped: undefined, attempt: 5, maxAttempts: 5 },
    { kind: 'final' },
  ],
  [
    'a permanent failure',
    { err: new PermanentError('bad input'), stopped: undefined, attempt: 1, maxAttempts: 5 },
    { kind: 'final' },
  ],
];

describe('decideFailure: what a failed attempt leads to', () => {
  it.each(FAILURES)('%s', (_, input, expected) => {
    expect(decideFailure(input)).toEqual(expected);
  });
});

describe('decideAfterSuccess: whether a committed stage advances the run', () => {
  it('advances a run still going', () => {
    expect(decideAfterSuccess(run('RUNNING'), NOW)).toEqual({ kind: 'advance' });
  });
  it('advances a run the stage itself closed (monitor)', () => {
    expect(
      decideAfterSuccess(run('SUCCEEDED', { cancel_requested_at: new Date(NOW) }), NOW),
    ).toEqual({ kind: 'advance' });
  });
  it('compensates a run cancelled while the stage worked', () => {
    expect(decideAfterSuccess(run('RUNNING', { cancel_requested_at: new Date(NOW) }), NOW)).toEqual(
      { kind: 'compensate', stop },
    );
  });
  it('compensates a run whose deadline passed while the stage worked', () => {
    expect(decideAfterSuccess(run('RUNNING', { options: { deadlineMs: 10 } }), NOW)).toEqual({
      kind: 'compensate',
      stop: { end: 'COMPENSATED', reason: 'deadline of 10 ms exceeded' },
    });
  });
});
