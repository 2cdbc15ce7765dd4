import {
  type ApiKeyPrincipal,
  CLEARANCES,
  ROLES,
  ROLE_CLEARANCE,
  type Role,
  hashApiKey,
} from '@heady/db';
import { type Logger } from '@heady/telemetry';
import { describe, expect, it } from 'vitest';
import { type AccessAuditRepository, type AccessDecision } from './access-audit.repository.js';
import { type AuthRepository } from './auth.repository.js';
import { AuthService } from './auth.service.js';
import { type TiersService } from '../tiers/tiers.service.js';
import { type GatewayConfig } from '@heady/config';
import { type ApiKeyChanges, type ApiKeyChangesRepository } from './api-key-changes.repository.js';

const KEYS: Record<string, Role> = Object.fromEntries(ROLES.map((r) => [`hk_${r}key`, r]));

function make() {
  const audited: AccessDecision[] = [];
  const touched: string[] = [];
  const lookups: string[] = [];
  const repo = {
    findActive: (hash: string) => {
      lookups.push(hash);
      const entry = Object.entries(KEYS).find(([k]) => hashApiKey(k) === hash);
      if (!entry) return Promise.resolve(undefined);
      const p: ApiKeyPrincipal = {
        keyId: entry[1],
        orgId: 'org',
        orgName: 'org',
        plan: 'FREE',
        role: entry[1],
        lastUsedAt: null,
      };
      return Promise.resolve(p);
    },
    touch: (id: string) => (touched.push(id), Promise.resolve()),
  } as unknown as AuthRepository;
  const audit = {
    publish: (d: AccessDecision) => (audited.push(d), Promise.resolve()),
  } as unknown as AccessAuditRepository;
  const log = { warn: () => undefined } as unknown as Logger;
  // the tier cache answers with the plan the key lookup read
  const tiers = {
    planOf: (_org: string, plan: string) => Promise.resolve(plan),
  } as unknown as TiersService;
  // the key change feed: a test drives it through `feed`
  let feed: ApiKeyChanges | undefined;
  const changes = {
    subscribe: (s: ApiKeyChanges) => (feed = s),
  } as unknown as ApiKeyChangesRepository;
  const config = { apiKeys: { cacheMs: 60_000 } } as GatewayConfig;
  const service = new AuthService(repo, audit, log, tiers, changes, config);
  return { service, audited, touched, lookups, feed: () => feed as ApiKeyChanges };
}

describe(AuthService.name, () => {
  it('lets every role through exactly the route classes at or below its clearance (role × class matrix)', async () => {
    const { service } = make();
    for (const role of ROLES) {
      const caller = await service.authenticate(`Bearer hk_${role}key`);
      for (const cls of CLEARANCES) {
        const expected = CLEARANCES.indexOf(ROLE_CLEARANCE[role]) >= CLEARANCES.indexOf(cls);
        let outcome: string = 'allowed';
        try {
          service.authorize(caller, cls, `GET /${cls}`);
        } catch (e) {
          outcome = (e as { code: string }).code;
        }
        expect(outcome, `${role} → ${cls}`).toBe(expected ? 'allowed' : 'FORBIDDEN');
      }
    }
  });

  it('lets an anonymous caller reach PUBLIC routes only, with 401 elsewhere', async () => {
    const { service } = make();
    const anon = await service.authenticate(undefined);
    expect(() => service.authorize(anon, 'PUBLIC', 'GET /api/health')).not.toThrow();
    for (const cls of CLEARANCES.slice(1))
      expect(() => service.authorize(anon, cls, 'GET /x')).toThrow(
        expect.objectContaining({ code: 'UNAUTHENTICATED' }),
      );
  });

  it('rejects an unknown key and a malformed Authorization header', async () => {
    const { service } = make();
    await expect(service.authenticate('Bearer hk_nope')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    await expect(service.authenticate('Basic dXNlcjpwYXNz')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('audits decisions on INTERNAL and higher routes only, allowed or denied', async () => {
    const { service, audited, touched } = make();
    const member = await service.authenticate('Bearer hk_memberkey');
    expect(touched).toEqual(['member']);
    service.authorize(member, 'PUBLIC', 'GET /api/health');
    service.authorize(member, 'INTERNAL', 'GET /api/runs/:id');
    expect(() => service.authorize(member, 'RESTRICTED', 'DELETE /secret')).toThrow();
    await Promise.resolve();
    expect(audited.map((d) => [d.route, d.allowed])).toEqual([
      ['GET /api/runs/:id', true],
      ['DELETE /secret', false],
    ]);
    expect(audited[1]).toMatchObject({
      actor: 'api-key:member',
      routeClass: 'RESTRICTED',
      clearance: 'INTERNAL',
    });
  });

  it('lets only the plans a route is reserved for through, naming the plan required', async () => {
    const { service } = make();
    const caller = await service.authenticate('Bearer hk_memberkey');
    const pro = { ...caller, principal: { ...caller.principal!, plan: 'PRO' as const } };
    expect(() => service.requirePlan(pro, ['PRO', 'ENTERPRISE'], 'POST /x')).not.toThrow();
    let err: { code?: string; message?: string; details?: unknown } = {};
    try {
      service.requirePlan(caller, ['PRO', 'ENTERPRISE'], 'POST /x');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toBe(
      'POST /x needs the Pro or Enterprise plan; this organization is on FREE',
    );
    expect(err.details).toEqual({ requiredPlan: 'PRO', plan: 'FREE' });
    const anonymous = await service.authenticate(undefined);
    expect(() => service.requirePlan(anonymous, ['PRO'], 'POST /x')).toThrow(/on no plan/);
  });

  it('looks a key up once while the change feed is live, and again after the key changes', async () => {
    const { service, lookups, feed } = make();
    await service.authenticate('Bearer hk_memberkey');
    await service.authenticate('Bearer hk_memberkey');
    expect(lookups).toHaveLength(2); // feed not live yet: nothing cached
    feed().live(true);
    await service.authenticate('Bearer hk_memberkey');
    await service.authenticate('Bearer hk_memberkey');
    expect(lookups).toHaveLength(3);
    feed().key(hashApiKey('hk_memberkey'));
    await service.authenticate('Bearer hk_memberkey');
    expect(lookups).toHaveLength(4);
    feed().org('org');
    await service.authenticate('Bearer hk_memberkey');
    expect(lookups).toHaveLength(5);
    feed().live(false);
    await service.authenticate('Bearer hk_memberkey');
    await service.authenticate('Bearer hk_memberkey');
    expect(lookups).toHaveLength(7);
  });

  it("writes a cached key's last use once, not on every request", async () => {
    const { service, touched, feed } = make();
    feed().live(true);
    for (let i = 0; i < 5; i++) await service.authenticate('Bearer hk_viewerkey');
    expect(touched).toEqual(['viewer']);
  });
});
