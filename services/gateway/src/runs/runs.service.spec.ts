import { describe, expect, it } from 'vitest';
import { type BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { ErrorCode } from '@heady/contracts';
import { type Logger } from '@heady/telemetry';
import { type RunsReadRepository } from './runs.repository.js';
import { RunsService, requestHash } from './runs.service.js';

describe('requestHash', () => {
  it('is the same whatever the key order', () => {
    expect(requestHash({ action: 'chat', input: { a: 1, b: [1, { c: 2, d: 3 }] } })).toBe(
      requestHash({ input: { b: [1, { d: 3, c: 2 }], a: 1 }, action: 'chat' }),
    );
  });
  it('differs when any value differs', () => {
    expect(requestHash({ action: 'chat', input: { a: 1 } })).not.toBe(
      requestHash({ action: 'chat', input: { a: 2 } }),
    );
    expect(requestHash({ action: 'chat', input: {} })).not.toBe(
      requestHash({ action: 'chat', input: {}, sessionId: 's' }),
    );
  });
});

describe(RunsService.name, () => {
  const make = (faults: boolean) => {
    const published: unknown[] = [];
    const bus = {
      request: (...a: unknown[]) => {
        published.push(a);
        return Promise.resolve({ runId: 'r', status: 0, group: 'reasoning', replayed: false });
      },
    } as unknown as BusPublisher;
    const log = { info: () => undefined } as unknown as Logger;
    const service = new RunsService(
      bus,
      {} as RunsReadRepository,
      { faults, nats: { rpcTimeoutMs: 1000 } } as GatewayConfig,
      log,
    );
    return { service, published };
  };
  const body = {
    action: 'chat',
    input: {},
    options: { faults: [{ stage: 'plan' as const, mode: 'transient' as const }] },
  };

  it('refuses a run carrying faults with VALIDATION_FAILED (422) when HEADY_FAULTS is off', async () => {
    const { service, published } = make(false);
    await expect(service.start(body, undefined)).rejects.toMatchObject({
      code: ErrorCode.ValidationFailed,
      message: expect.stringMatching(/HEADY_FAULTS=1/) as unknown,
    });
    expect(published).toHaveLength(0);
  });

  it('passes the faults on to the conductor when HEADY_FAULTS is on', async () => {
    const { service, published } = make(true);
    await expect(service.start(body, undefined)).resolves.toMatchObject({ runId: 'r' });
    expect(published).toHaveLength(1);
  });
});
