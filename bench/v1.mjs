// npm run bench:v1 — what Heady's OpenAI-compatible API adds on top of the provider.
//
// Starts a fake OpenAI-compatible provider (fixed latency and token pace), its own
// nats-server and database, and the services as separate processes (gateway, conductor,
// pipeline, workers; signing on), with the workers pointed at the fake. Then, in the same
// run, streams the same chat completion
//   1. directly from the fake (the baseline: what a client calling the provider gets), and
//   2. through the gateway's POST /v1/chat/completions (a run: conductor, nine signed
//      stages, a task on work.<group>, the worker's provider call, tokens over core NATS),
// at 1 and at 20 concurrent clients, and prints time to first token (TTFT) and total time,
// p50 and p99 of each, and the gateway's overhead (gateway − direct, at p50 and p99).
// Goal: p50 TTFT overhead ≤ 100 ms.
//
// Usage: npm run bench:v1 -- [--requests 60] [--latency 50] [--tokens 8] [--token-delay 10]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  createTestDatabase,
  startFakeModelServer,
  startNatsServer,
  startStack,
} from '@heady/testing';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '60' },
    latency: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '8' },
    'token-delay': { type: 'string', default: '10' },
  },
});
const REQUESTS = Number(values.requests);
const LATENCY = Number(values.latency);
const TOKENS = Array.from({ length: Number(values.tokens) }, (_, i) => (i ? ` w${i}` : 'w0'));
const TOKEN_DELAY = Number(values['token-delay']);

const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** Streams one chat completion; resolves to time to first content delta and total time (ms). */
async function streamOnce(url, headers, model) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model,
      stream: true,
      messages: [{ role: 'user', content: 'Say eight words.' }],
    }),
  });
  if (res.status !== 200 || !res.body)
    throw new Error(`${url} → ${res.status} ${await res.text()}`);
  let ttft;
  let text = '';
  const decoder = new TextDecoder();
  let buf = '';
  for await (const bytes of res.body) {
    buf += decoder.decode(bytes, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.startsWith('data: ') ? frame.slice(6) : '';
      if (!data || data === '[DONE]') continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) {
        ttft ??= performance.now() - t0;
        text += content;
      }
    }
  }
  if (text !== TOKENS.join('')) throw new Error(`unexpected answer: ${JSON.stringify(text)}`);
  return { ttft, total: performance.now() - t0 };
}

/** `REQUESTS` streams with `clients` at a time; sorted TTFTs and totals. */
async function measure(clients, once) {
  const ttft = [];
  const total = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < REQUESTS) {
        next++;
        const r = await once();
        ttft.push(r.ttft);
        total.push(r.total);
      }
    }),
  );
  return { ttft: ttft.sort((a, b) => a - b), total: total.sort((a, b) => a - b) };
}

const fake = await startFakeModelServer();
fake.respond(() => ({ latencyMs: LATENCY, tokens: TOKENS, tokenDelayMs: TOKEN_DELAY }));
const nats = await startNatsServer();
const pg = await createTestDatabase('heady_bench_v1');
let stack;
try {
  process.stdout.write(
    `machine: ${cpus().length} cores, node ${process.version}; provider: ${LATENCY} ms to first byte, ` +
      `${TOKENS.length} tokens ${TOKEN_DELAY} ms apart; ${REQUESTS} streamed completions per row\n`,
  );
  stack = await startStack({
    natsUrl: nats.url,
    databaseUrl: pg.url,
    services: ['conductor', 'pipeline', 'gateway', 'workers'],
    env: {
      LOG_LEVEL: 'warn',
      HEADY_PROVIDERS: JSON.stringify([
        { name: 'fake', kind: 'openai-compatible', baseUrl: fake.openaiBaseURL, model: 'fake-1' },
      ]),
    },
  });
  const direct = () => streamOnce(`${fake.openaiBaseURL}/chat/completions`, {}, 'fake-1');
  const gateway = () =>
    streamOnce(
      `${stack.gatewayUrl}/v1/chat/completions`,
      { authorization: `Bearer ${stack.apiKey}` },
      'heady',
    );
  // warm up both paths (JIT, pools, consumers, signing keys), excluded from every figure
  for (let i = 0; i < 10; i++) await Promise.all([direct(), gateway()]);

  const rows = [];
  for (const clients of [1, 20]) {
    const d = await measure(clients, direct);
    const g = await measure(clients, gateway);
    rows.push({ clients, d, g });
    const line = (name, r) =>
      `${name.padEnd(8)} TTFT p50 ${fmt(pct(r.ttft, 50)).padStart(5)} ms  p99 ${fmt(pct(r.ttft, 99)).padStart(5)} ms   total p50 ${fmt(pct(r.total, 50)).padStart(5)} ms  p99 ${fmt(pct(r.total, 99)).padStart(5)} ms`;
    process.stdout.write(
      [
        `${clients} concurrent client${clients > 1 ? 's' : ''}:`,
        `  ${line('direct', d)}`,
        `  ${line('gateway', g)}`,
        `  overhead TTFT p50 ${fmt(pct(g.ttft, 50) - pct(d.ttft, 50))} ms  p99 ${fmt(pct(g.ttft, 99) - pct(d.ttft, 99))} ms;` +
          ` total p50 ${fmt(pct(g.total, 50) - pct(d.total, 50))} ms  p99 ${fmt(pct(g.total, 99) - pct(d.total, 99))} ms` +
          ` (gateway/direct TTFT p50 ×${(pct(g.ttft, 50) / pct(d.ttft, 50)).toFixed(1)})`,
      ].join('\n') + '\n',
    );
  }
  const single = rows[0];
  const over = pct(single.g.ttft, 50) - pct(single.d.ttft, 50);
  process.stdout.write(
    `goal p50 TTFT overhead ≤ 100 ms at 1 client: ${fmt(over)} ms — ${over <= 100 ? 'met' : 'NOT met'}\n`,
  );
} finally {
  await stack?.stop();
  await pg.drop();
  await nats.stop();
  await fake.close();
}
