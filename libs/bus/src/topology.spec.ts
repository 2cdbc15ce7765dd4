import { describe, expect, it } from 'vitest';
import { STREAMS, compensationConsumer, stageConsumer, streamConfig } from './topology.js';

const config = { nats: { streamMaxAgeDays: 7, duplicateWindowSeconds: 120 } } as Parameters<
  typeof streamConfig
>[1];

describe('stageConsumer', () => {
  it('names the durable after the stage and filters on its subject', () => {
    expect(stageConsumer('plan')).toEqual({
      stream: 'PIPELINE',
      durable: 'stage-plan',
      filterSubject: 'pipeline.stage.plan',
      ackWaitMs: 30_000,
      maxDeliver: 8,
      backoffMs: [250, 1000, 5000, 15000],
      maxAckPending: 1000,
    });
  });

  it('takes overrides for the retry policy', () => {
    expect(stageConsumer('plan', { ackWaitMs: 120_000, maxDeliver: 3 })).toMatchObject({
      durable: 'stage-plan',
      ackWaitMs: 120_000,
      maxDeliver: 3,
    });
  });
});

describe('compensationConsumer', () => {
  it("names the durable compensate-<stage> on the stage's compensation subject, with its settings", () => {
    expect(compensationConsumer('plan', { ackWaitMs: 3_000, maxDeliver: 45 })).toEqual({
      stream: 'PIPELINE',
      durable: 'compensate-plan',
      filterSubject: 'pipeline.compensate.plan',
      ackWaitMs: 3_000,
      maxDeliver: 45,
      backoffMs: [250, 1000, 5000, 15000],
      maxAckPending: 1000,
    });
  });
});

describe('streamConfig', () => {
  it('keeps files with limits retention, max age and duplicate window from config', () => {
    const spec = STREAMS.find((s) => s.name === 'PIPELINE');
    if (!spec) throw new Error('no PIPELINE stream');
    expect(streamConfig(spec, config)).toMatchObject({
      name: 'PIPELINE',
      subjects: ['pipeline.stage.*', 'pipeline.compensate.*'],
      storage: 'file',
      retention: 'limits',
      max_age: 7 * 86_400 * 1e9,
      duplicate_window: 120 * 1e9,
    });
  });

  it('has one replica unless HEADY_STREAM_REPLICAS says more (3 on a cluster)', () => {
    const spec = STREAMS[0]!;
    expect(streamConfig(spec, config).num_replicas).toBe(1);
    const r3 = { nats: { ...config.nats, streamReplicas: 3 } };
    expect(streamConfig(spec, r3).num_replicas).toBe(3);
  });

  it('declares every stream of the architecture', () => {
    expect(STREAMS.map((s) => s.name)).toEqual([
      'PIPELINE',
      'WORK',
      'RUN_EVENTS',
      'AUDIT',
      'DLQ',
      'BILLING',
      'DEVICE',
      'KNOWLEDGE',
    ]);
  });
});
