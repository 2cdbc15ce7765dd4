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

/** Who sent a request, as far as the gateway can tell. */
export interface ClientAddress {
  /** The client's address (see {@link clientIp}): the rate-limit and ban subject when anonymous. */
  ip: string;
  /** True only when that address is the request's real origin and lies in the mesh. */
  mesh: boolean;
}

/**
 * The client address and whether it really comes from the mesh. A trusted proxy's own
 * address never counts as the mesh (a load balancer in 10/8 forwards the whole world):
 * behind one, the address it forwarded for decides, and a request it forwarded without
 * naming a client is not exempt. A request that came through an untrusted proxy in the mesh
 * (it carries X-Forwarded-For) is not exempt either: its origin is unknown.
 */
export function resolveClient(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
  mesh: BlockList,
): ClientAddress {
  const ip = clientIp(peer, forwardedFor, trusted);
  const viaProxy = contains(trusted, normalize(peer ?? ''));
  const inMesh =
    contains(mesh, ip) &&
    // walking stopped on a trusted proxy: the client behind it is unknown
    !contains(trusted, ip) &&
    // an untrusted hop forwarded this on behalf of someone else
    (viaProxy || forwardedFor === undefined);
  return { ip, mesh: inMesh };
}
