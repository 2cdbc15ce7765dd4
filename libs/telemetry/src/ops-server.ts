import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { metricsRegistry } from './metrics.js';
import { type ReadinessRegistry } from './readiness.js';

/** A listening ops server (see {@link startOpsServer}). */
export interface OpsServer {
  /** The port it listens on (the one asked for, or the one picked for port 0). */
  port: number;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function handle(
  readiness: ReadinessRegistry,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { status: 405 });
  if (path === '/healthz') return json(res, 200, { status: 'ok' });
  if (path === '/readyz') {
    const { ready, checks, failing } = await readiness.check();
    return json(
      res,
      ready ? 200 : 503,
      ready ? { status: 'ready', checks } : { status: 'not ready', checks, failing },
    );
  }
  if (path === '/metrics') {
    const body = await metricsRegistry.metrics();
    res.writeHead(200, { 'content-type': metricsRegistry.contentType });
    res.end(body);
    return;
  }
  json(res, 404, { status: 404 });
}

/**
 * Serves `GET /healthz`, `/readyz` and `/metrics` (the same answers as the ops controller)
 * on a port of their own, for a process whose main port is public (the gateway): probes and
 * scrapes reach them on the ops network, clients never do.
 */
export async function startOpsServer(
  readiness: ReadinessRegistry,
  listen: { port: number; host: string },
): Promise<OpsServer> {
  const server = createServer((req, res) => {
    handle(readiness, req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { status: 500 });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
