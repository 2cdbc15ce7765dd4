import { isPermanentError } from '@heady/bus';
import { type Plan } from '@heady/db';
import { type Logger } from '@heady/telemetry';
import { describe, expect, it } from 'vitest';
import { type PlansRepository } from './plans.repository.js';
import { type TierCacheRepository } from './tier-cache.repository.js';
import { TiersService } from './tiers.service.js';

const ORG = '0b6c1f9e-3c1e-4d55-9a3e-9f0e5a1d2c3b';

function make(recorded: { plan: Plan; applied: boolean } | undefined, cached?: Plan) {
  const cache = new Map<string, Plan>(cached ? [[ORG, cached]] : []);
  const cacheRepo = {
    get: (org: string) => Promise.resolve(cache.get(org)),
    set: (org: string, p: Plan) => (cache.set(org, p), Promise.resolve()),
  } as unknown as TierCacheRepository;
  const plans = { apply: () => Promise.resolve(recorded) } as unknown as PlansRepository;
  const log = { info: () => undefined, debug: () => undefined } as unknown as Logger;
  return { service: new TiersService(cacheRepo, plans, log), cache };
}

const change = (plan: string, orgId = ORG) => ({ orgId, plan, changedAt: new Date(), reason: 't' });

describe(TiersService.name, () => {
  it('caches the plan now in force, also when the change was older than the recorded one', async () => {
    const { service, cache } = make({ plan: 'ENTERPRISE', applied: false }, 'FREE');
    expect(await service.apply(change('pro'))).toEqual({ plan: 'ENTERPRISE', applied: false });
    expect(cache.get(ORG)).toBe('ENTERPRISE');
  });

  it('sends unknown plans, malformed ids and unknown organizations to DLQ (permanent)', async () => {
    const { service } = make(undefined);
    for (const c of [change('GOLD'), change('PRO', 'not-a-uuid'), change('PRO')]) {
      const err = await service.apply(c).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPermanentError(err)).toBe(true);
    }
  });

  it('prefers the cached plan and fills a miss from the key lookup', async () => {
    const hit = make(undefined, 'PRO');
    expect(await hit.service.planOf(ORG, 'FREE')).toBe('PRO');
    const miss = make(undefined);
    expect(await miss.service.planOf(ORG, 'FREE')).toBe('FREE');
    await new Promise((r) => setImmediate(r));
    expect(miss.cache.get(ORG)).toBe('FREE');
  });
});
