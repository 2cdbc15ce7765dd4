import { InsertVectors, StartRun } from '@heady/contracts';
import { describe, expect, it } from 'vitest';
import { HandleRpc, ungrantedPatterns } from './rpc-handler.js';

describe(ungrantedPatterns.name, () => {
  it('finds the handlers a service is not granted by the catalog', () => {
    expect(ungrantedPatterns('conductor', [StartRun.subject, 'audit.>'])).toEqual([]);
    expect(ungrantedPatterns('gateway', [StartRun.subject, 'billing.tier.changed'])).toEqual([
      StartRun.subject,
    ]);
    expect(ungrantedPatterns('pipeline', [InsertVectors.subject])).toEqual([InsertVectors.subject]);
  });

  it("leaves a test's own service alone", () => {
    expect(ungrantedPatterns('bus-test', ['anything.>'])).toEqual([]);
  });
});

describe(HandleRpc.name, () => {
  class Memory {
    @HandleRpc(InsertVectors)
    insert(req: { orgId: string; items: { content: string }[] }): Promise<{ ids: string[] }> {
      return Promise.resolve({ ids: req.items.map((i) => `${req.orgId}:${i.content}`) });
    }
  }

  it('parses a JSON request by the RPC schema before the method runs', async () => {
    const m = new Memory();
    await expect(m.insert({ orgId: 'o', items: [{ content: 'hi' }] })).resolves.toEqual({
      ids: ['o:hi'],
    });
    await expect(
      (m.insert as (r: unknown) => Promise<unknown>)({ orgId: 'o', items: [] }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
