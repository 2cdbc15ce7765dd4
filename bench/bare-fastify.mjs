// The baseline for bench/gateway.mjs: a bare Fastify route in its own process, answering
// a JSON body of the size GET /api/whoami answers, with no auth, limiter or problem handling.
// Usage: node bench/bare-fastify.mjs <port>
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// fastify as the gateway has it (same version)
const require = createRequire(
  join(dirname(fileURLToPath(import.meta.url)), '../services/gateway/package.json'),
);
// @ts-expect-error resolved from the gateway's package at run time, not from bench/
const Fastify = require('fastify');

const body = {
  organization: { id: '00000000-0000-4000-8000-000000000000', name: 'bench' },
  plan: 'FREE',
  role: 'member',
  clearance: 'INTERNAL',
  key: { id: '00000000-0000-4000-8000-000000000000', prefix: 'hk_abcdefgh' },
};
const app = Fastify({ logger: false });
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify sends what an async handler returns
app.get('/bare', async () => body);
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.stdout.write('listening\n');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
