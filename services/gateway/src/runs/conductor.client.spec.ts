import { type BusPublisher, RemoteError } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import {
  ErrorCode,
  HeadyError,
  RunStatus,
  StartRunRequestSchema,
  UnavailableError,
} from '@heady/contracts';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ConductorClient } from './conductor.client.js';

describe(ConductorClient.name, () => {
  const config = { nats: { rpcTimeoutMs: 1234 } } as GatewayConfig;
  const request = create(StartRunRequestSchema, { action: 'chat', orgId: 'o' });
  /** A client over a bus whose `call` records its arguments and settles with `answer`. */
  const over = (answer: () => Promise<unknown>) => {
    const calls: unknown[][] = [];
    const bus = {
      call: (...a: unknown[]) => {
        calls.push(a);
        return answer();
      },
    } as unknown as BusPublisher;
    return { client: new ConductorClient(bus, config), calls };
  };

  it('requests conductor.runs.start within the RPC timeout and returns the reply', async () => {
    const reply = { runId: 'r', status: RunStatus.PENDING, group: 'reasoning', replayed: false };
    const { client, calls } = over(() => Promise.resolve(reply));
    await expect(client.startRun(request)).resolves.toBe(reply);
    const [rpc, sent, opts] = calls[0] as [{ subject: string }, unknown, unknown];
    expect(rpc.subject).toBe('conductor.runs.start');
    expect(sent).toBe(request);
    expect(opts).toEqual({ timeoutMs: 1234 });
  });

  it('raises no conductor answering in time as an UnavailableError of the conductor', async () => {
    const down = new RemoteError(
      ErrorCode.Unavailable,
      'request conductor.runs.start: no responders',
      {
        subject: 'conductor.runs.start',
      },
    );
    const { client } = over(() => Promise.reject(down));
    const err = await client.startRun(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ dependency: 'conductor', cause: down });
  });

  it("raises the conductor's domain error as a HeadyError with its code and details", async () => {
    const refused = new RemoteError(ErrorCode.Forbidden, 'the FREE plan may not run code', {
      requiredPlan: 'PRO',
    });
    const { client } = over(() => Promise.reject(refused));
    const err = await client.startRun(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeadyError);
    expect(err).toMatchObject({
      code: 'FORBIDDEN',
      message: 'the FREE plan may not run code',
      details: { requiredPlan: 'PRO' },
    });
  });

  it('passes on any other failure unchanged', async () => {
    const odd = new RemoteError('INTERNAL', 'boom');
    const { client } = over(() => Promise.reject(odd));
    await expect(client.startRun(request)).rejects.toBe(odd);
  });
});
