import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Where the OS hands out ephemeral ports (Linux's default when it cannot be read): ports it
 * gives to outgoing connections and to `listen(0)`, so a port taken from there and released
 * can be taken again by any connection before the service that was meant to have it listens.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/** Ports below the ephemeral range, never handed out by the OS on its own. */
const [LOW, HIGH] = ((): [number, number] => {
  const [lo] = ephemeralRange();
  return lo > 20_000 ? [10_000, lo] : [lo, 65_535];
})();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago, outside the ephemeral range: a random one (so
 * parallel test files rarely pick the same), checked by binding it. A port the OS picked
 * (`listen(0)`) could be reused for an outgoing connection before the service listened on it,
 * which failed whole suites with EADDRINUSE on a busy machine.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${LOW}–${HIGH} after 200 tries`);
}
