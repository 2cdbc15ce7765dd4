import { request } from 'node:http';

// Spellings of one path that a client can send and a router may or may not fold onto the
// literal path: percent-encoded letters, doubled slashes, dot segments, a trailing dot or
// slash, other letter cases. Each is sent raw (node:http), so nothing normalizes it first.

/** `/%61pi/...`: `c` percent-encoded at its first occurrence after `from`. */
function encodeFirst(path: string, from: number): string {
  for (let i = from; i < path.length; i++) {
    const ch = path.charAt(i);
    if (/[a-z]/i.test(ch))
      return `${path.slice(0, i)}%${ch.charCodeAt(0).toString(16)}${path.slice(i + 1)}`;
  }
  return path;
}

/** Every spelling of `path` (a literal `/api/...` or `/v1/...` path), the literal first. */
export function pathSpellings(path: string): { name: string; path: string }[] {
  const [, first = '', rest = ''] = /^\/([^/]+)(.*)$/.exec(path) ?? [];
  // where the second segment starts (`/api/` is 5 characters)
  const second = rest.length > 1 ? first.length + 2 : -1;
  const spellings = [
    { name: 'literal', path },
    { name: 'encoded first letter', path: encodeFirst(path, 1) },
    {
      name: 'encoded prefix',
      path: `/${[...first].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('')}${rest}`,
    },
    { name: 'leading double slash', path: `/${path}` },
    { name: 'inner double slash', path: `/${first}/${rest}` },
    { name: 'dot segment', path: `/${first}/.${rest}` },
    { name: 'dot-dot segment', path: `/${first}/x/..${rest}` },
    { name: 'encoded dot segment', path: `/${first}/%2e${rest}` },
    { name: 'encoded slash', path: `/${first}%2F${rest.slice(1)}` },
    { name: 'trailing dot', path: `${path}.` },
    { name: 'trailing encoded dot', path: `${path}%2e` },
    { name: 'trailing slash', path: `${path}/` },
    { name: 'upper-case prefix', path: `/${first.toUpperCase()}${rest}` },
    { name: 'upper-case path', path: path.toUpperCase() },
  ];
  if (second > 0) spellings.push({ name: 'encoded later letter', path: encodeFirst(path, second) });
  // the same spelling twice (e.g. a path with no second segment) is sent once
  return spellings.filter((s, i) => spellings.findIndex((t) => t.path === s.path) === i);
}

/** One raw HTTP request: the path goes on the wire exactly as given. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      // an event stream that opened would not end: its head is the answer
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
