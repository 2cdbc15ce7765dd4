import { describe, expect, it } from 'vitest';
import { cidrSet, clientIp, contains, resolveClient } from './client-ip.js';
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

describe('resolveClient', () => {
  const mesh = cidrSet(['10.0.0.0/8']);
  const lb = cidrSet(['10.0.0.2/32']); // a trusted load balancer inside the mesh range

  it('does not exempt the world behind a trusted load balancer in 10/8: the client behind it decides', () => {
    expect(resolveClient('10.0.0.2', '203.0.113.5', lb, mesh)).toEqual({
      ip: '203.0.113.5',
      mesh: false,
    });
    // forwarded without naming a client, or naming only the balancer: the origin is unknown
    expect(resolveClient('10.0.0.2', undefined, lb, mesh).mesh).toBe(false);
    expect(resolveClient('::ffff:10.0.0.2', '10.0.0.2', lb, mesh).mesh).toBe(false);
  });

  it('exempts a mesh address the load balancer forwarded for, and a mesh peer calling directly', () => {
    expect(resolveClient('10.0.0.2', '198.51.100.1, 10.4.5.6', lb, mesh)).toEqual({
      ip: '10.4.5.6',
      mesh: true,
    });
    expect(resolveClient('10.9.9.9', undefined, lb, mesh)).toEqual({ ip: '10.9.9.9', mesh: true });
  });

  it('does not exempt a request an untrusted proxy in the mesh forwarded for someone else', () => {
    expect(resolveClient('10.9.9.9', '203.0.113.5', lb, mesh)).toEqual({
      ip: '10.9.9.9',
      mesh: false,
    });
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
