import { describe, expect, it } from 'vitest';
import {
  CATALOG,
  RPC_SUBJECTS,
  mayPublish,
  mayReceive,
  patternCovers,
  publishableBy,
  recipients,
  revocationSubject,
  STREAM_SUBJECTS,
  subjectPermitted,
  UNSIGNED_SUBJECTS,
} from './catalog.js';
import { SERVICE_NAMES } from './vocabulary.js';

describe('the bus catalog', () => {
  it('grants every RPC subject to exactly one publisher and one answerer', () => {
    for (const subject of Object.values(RPC_SUBJECTS)) {
      const grants = CATALOG.filter((g) => g.subject === subject && g.publishers.length);
      expect(grants, subject).toHaveLength(1);
      expect(grants[0]?.kind).toBe('rpc');
      expect(grants[0]?.recipient).toBe(grants[0]?.receivers[0]);
    }
  });

  it('names only known services', () => {
    for (const g of CATALOG)
      for (const s of [...g.publishers, ...g.receivers]) expect(SERVICE_NAMES).toContain(s);
  });

  it('lets the conductor start a run but not publish later stages', () => {
    expect(mayPublish('conductor', 'pipeline.stage.channel-entry')).toBe(true);
    expect(mayPublish('conductor', 'pipeline.stage.plan')).toBe(false);
    expect(mayPublish('pipeline', 'pipeline.stage.*')).toBe(true);
    expect(mayPublish('gateway', 'runs.r1.run.succeeded')).toBe(false);
    expect(publishableBy('vector-memory')).toEqual(['audit.>']);
  });

  it('says who receives what', () => {
    expect(mayReceive('vector-memory', RPC_SUBJECTS.searchMemory)).toBe(true);
    expect(mayReceive('gateway', RPC_SUBJECTS.searchMemory)).toBe(false);
    expect(mayReceive('pipeline', 'pipeline.compensate.*')).toBe(true);
    expect(mayReceive('gateway', 'pipeline.>')).toBe(false);
    expect(recipients()['memory.zone']).toBe('vector-memory');
  });
});

describe(revocationSubject.name, () => {
  const kid = '0123456789abcdef0123456789abcdef';

  it("is one token under the revocation stream's pattern, which no service may publish", () => {
    expect(revocationSubject(kid)).toBe(`keys.revoked.${kid}`);
    expect(subjectPermitted([STREAM_SUBJECTS.revocations], revocationSubject(kid))).toBe(true);
    for (const s of SERVICE_NAMES) expect(mayPublish(s, revocationSubject(kid)), s).toBe(false);
    expect(UNSIGNED_SUBJECTS.map((g) => g.subject)).toContain(STREAM_SUBJECTS.revocations);
  });
});

describe(patternCovers.name, () => {
  it('compares patterns token by token', () => {
    expect(patternCovers('pipeline.>', 'pipeline.stage.*')).toBe(true);
    expect(patternCovers('pipeline.stage.*', 'pipeline.>')).toBe(false);
    expect(patternCovers('pipeline.stage.*', 'pipeline.stage.plan')).toBe(true);
    expect(patternCovers('pipeline.stage.plan', 'pipeline.stage.*')).toBe(false);
    expect(patternCovers('audit.>', 'audit')).toBe(false);
  });
});
