import { BlockList, isIPv4 } from 'node:net';

/** A set of CIDRs (IPv4 or IPv6) to test addresses against. */
export function cidrSet(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    if (!addr) continue;
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function normalize(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return v4?.[1] ?? ip;
}

export function contains(list: BlockList, ip: string): boolean {
  const a = normalize(ip);
  try {
    return list.check(a, isIPv4(a) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

/**
 * The client's address: the socket peer, unless that peer is a trusted proxy, in which
 * case X-Forwarded-For is walked from the right past every trusted hop.
 */
export function clientIp(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
): string {
  let ip = normalize(peer ?? 'unknown');
  if (!contains(trusted, ip) || forwardedFor === undefined) return ip;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  while (hops.length > 0 && contains(trusted, ip)) ip = normalize(hops.pop() ?? ip);
  return ip;
}
