import { describe, expect, it } from 'vitest';
import { type BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { ErrorCode, RunStatus } from '@heady/contracts';
import { type Logger } from '@heady/telemetry';
import { ConductorClient } from './conductor.client.js';
import { type RunEventsRepository } from './run-events.repository.js';
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
      call: (...a: unknown[]) => {
        published.push(a);
        return Promise.resolve({
          runId: 'r',
          status: RunStatus.PENDING,
          group: 'reasoning',
          replayed: false,
        });
      },
    } as unknown as BusPublisher;
    const log = { info: () => undefined } as unknown as Logger;
    const config = { faults, nats: { rpcTimeoutMs: 1000 } } as GatewayConfig;
    const service = new RunsService(
      new ConductorClient(bus, config),
      {} as RunsReadRepository,
      {} as RunEventsRepository,
      config,
      log,
    );
    return { service, published };
  };
  const by = {
    principal: {
      keyId: '00000000-0000-4000-8000-000000000001',
      orgId: '00000000-0000-4000-8000-000000000002',
      orgName: 'acme',
      plan: 'PRO' as const,
      role: 'member' as const,
      lastUsedAt: null,
    },
    route: 'POST /api/runs',
  };
  const body = {
    action: 'chat',
    input: {},
    options: { faults: [{ stage: 'plan' as const, mode: 'transient' as const }] },
  };

  it('refuses a run carrying faults with VALIDATION_FAILED (422) when HEADY_FAULTS is off', async () => {
    const { service, published } = make(false);
    await expect(service.start(body, undefined, by)).rejects.toMatchObject({
      code: ErrorCode.ValidationFailed,
      message: expect.stringMatching(/HEADY_FAULTS=1/) as unknown,
    });
    expect(published).toHaveLength(0);
  });

  it('passes the faults on to the conductor when HEADY_FAULTS is on', async () => {
    const { service, published } = make(true);
    await expect(service.start(body, undefined, by)).resolves.toMatchObject({ runId: 'r' });
    expect(published).toHaveLength(1);
  });

  it("tells the conductor the caller's organization, key, route and plan", async () => {
    const { service, published } = make(true);
    await service.start(body, 'k-1', by);
    const [rpc, request] = published[0] as [{ subject: string }, unknown];
    expect(rpc.subject).toBe('conductor.runs.start');
    expect(request).toMatchObject({
      orgId: by.principal.orgId,
      apiKeyId: by.principal.keyId,
      route: 'POST /api/runs',
      plan: 'PRO',
      idempotencyKey: 'k-1',
    });
  });
});
