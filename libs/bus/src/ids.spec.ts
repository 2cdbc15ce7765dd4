import { describe, expect, it } from 'vitest';
import {
  backoffFor,
  compensationMsgId,
  dlqMsgId,
  eventMsgId,
  stageMsgId,
  subjectMatches,
} from './ids.js';

describe('subjectMatches', () => {
  it.each([
    ['pipeline.stage.*', 'pipeline.stage.plan', true],
    ['pipeline.stage.*', 'pipeline.stage', false],
    ['pipeline.stage.*', 'pipeline.stage.plan.x', false],
    ['audit.>', 'audit.routing', true],
    ['audit.>', 'audit.security.rejected', true],
    ['audit.>', 'audit', false],
    ['runs.*.run.started', 'runs.abc.run.started', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe('message ids', () => {
  it('derives a stage command id from run, stage and iteration', () => {
    expect(stageMsgId('r1', 'plan', 0)).toBe('r1:plan:0');
  });
  it('derives a compensation command id from run, stage, iteration and "compensate"', () => {
    expect(compensationMsgId('r1', 'plan', 0)).toBe('r1:plan:0:compensate');
  });
  it('joins event parts and refuses empty ones', () => {
    expect(eventMsgId('r1', 'stage.started', 'plan', '0', '2')).toBe('r1:stage.started:plan:0:2');
    expect(() => eventMsgId('r1', '')).toThrow();
  });
  it('gives one DLQ id per original message', () => {
    expect(dlqMsgId('PIPELINE', 42)).toBe('dlq:PIPELINE:42');
  });
});

describe('backoffFor', () => {
  it('follows the schedule by delivery count and repeats its last entry', () => {
    const s = [250, 1000, 5000];
    expect([1, 2, 3, 4, 9].map((d) => backoffFor(s, d))).toEqual([250, 1000, 5000, 5000, 5000]);
  });
  it('is immediate with no schedule', () => {
    expect(backoffFor([], 3)).toBe(0);
  });
});
