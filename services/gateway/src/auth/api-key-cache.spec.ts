import { type ApiKeyPrincipal } from '@heady/db';
import { describe, expect, it } from 'vitest';
import { ApiKeyCache } from './api-key-cache.js';

const principal = (orgId = 'o1'): ApiKeyPrincipal => ({
  keyId: 'k',
  orgId,
  orgName: 'acme',
  plan: 'FREE',
  role: 'member',
  lastUsedAt: null,
});

describe(ApiKeyCache.name, () => {
  it('keeps nothing until the change feed is live, and forgets everything when it drops', () => {
    const c = new ApiKeyCache(1_000);
    c.set('h', principal(), c.begin());
    expect(c.get('h')).toBeUndefined();
    c.setLive(true);
    c.set('h', principal(), c.begin());
    expect(c.get('h')).toEqual(principal());
    c.setLive(false);
    expect(c.get('h')).toBeUndefined();
    c.setLive(true);
    expect(c.get('h')).toBeUndefined();
  });

  it('expires entries after the TTL', () => {
    let now = 0;
    const c = new ApiKeyCache(1_000, 10, () => now);
    c.setLive(true);
    c.set('h', principal(), c.begin());
    now = 999;
    expect(c.get('h')).toBeDefined();
    now = 1_000;
    expect(c.get('h')).toBeUndefined();
  });

  it('does not keep a lookup that a change overtook (it may have read the old row)', () => {
    const c = new ApiKeyCache(1_000);
    c.setLive(true);
    const since = c.begin();
    c.evictKey('other');
    c.set('h', principal(), since);
    expect(c.get('h')).toBeUndefined();
  });

  it('evicts a key, or every key of an organization', () => {
    const c = new ApiKeyCache(1_000);
    c.setLive(true);
    c.set('a', principal('o1'), c.begin());
    c.set('b', principal('o1'), c.begin());
    c.set('c', principal('o2'), c.begin());
    c.evictKey('a');
    expect(c.get('a')).toBeUndefined();
    c.evictOrg('o1');
    expect([c.get('b'), c.get('c')?.orgId]).toEqual([undefined, 'o2']);
  });

  it('holds at most `max` entries, dropping the oldest', () => {
    const c = new ApiKeyCache(1_000, 2);
    c.setLive(true);
    for (const k of ['a', 'b', 'c']) c.set(k, principal(), c.begin());
    expect(c.size).toBe(2);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('c')).toBeDefined();
  });

  it('is off with a TTL of 0', () => {
    const c = new ApiKeyCache(0);
    c.setLive(true);
    c.set('h', principal(), c.begin());
    expect(c.get('h')).toBeUndefined();
  });
});
