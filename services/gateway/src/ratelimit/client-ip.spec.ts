import { describe, expect, it } from 'vitest';
import { cidrSet, clientIp, contains } from './client-ip.js';
import { LocalLimiter } from './local-limiter.js';

describe('clientIp', () => {
  const trusted = cidrSet(['127.0.0.1/32', '192.168.0.0/16']);

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(clientIp('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
  });

  it('walks X-Forwarded-For from the right past trusted proxies only', () => {
    expect(clientIp('::ffff:127.0.0.1', '1.2.3.4, 198.51.100.7, 192.168.1.1', trusted)).toBe(
      '198.51.100.7',
    );
  });

  it('tells mesh addresses (10.0.0.0/8 by default) from others, IPv4-mapped included', () => {
    const mesh = cidrSet(['10.0.0.0/8']);
    expect(contains(mesh, '::ffff:10.1.2.3')).toBe(true);
    expect(contains(mesh, '11.0.0.1')).toBe(false);
    expect(contains(mesh, 'not-an-ip')).toBe(false);
  });
});

describe(LocalLimiter.name, () => {
  it('admits exactly the limit within a window and frees slots as they age out', () => {
    const l = new LocalLimiter();
    const admitted = Array.from({ length: 5 }, (_, i) => l.hit('b', 3, 1000, 1000 + i).allowed);
    expect(admitted).toEqual([true, true, true, false, false]);
    expect(l.hit('b', 3, 1000, 1500)).toMatchObject({ allowed: false, remaining: 0, resetMs: 500 });
    expect(l.hit('b', 3, 1000, 2001).allowed).toBe(true);
  });
});
