// Starts a run through the gateway and prints its events as they happen (SSE), until the
// run ends. Usage, while `npm start` runs: node examples/dist/01-start-a-run-and-follow-events.js [action]
import { randomUUID } from 'node:crypto';
import { apiKey, gatewayUrl } from './local.js';

const action = process.argv[2] ?? 'analyze';
const auth = { authorization: `Bearer ${apiKey()}` };

const started = await fetch(`${gatewayUrl}/api/runs`, {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
  body: JSON.stringify({ action, input: { text: 'hello from example 01' } }),
});
if (started.status !== 202)
  throw new Error(`POST /api/runs: ${started.status} ${await started.text()}`);
const run = (await started.json()) as { runId: string; links: { events: string } };
console.log(`run ${run.runId} started`);

// the stream sends the run's history, then live events, and ends after its final event
const events = await fetch(`${gatewayUrl}${run.links.events}`, {
  headers: { ...auth, accept: 'text/event-stream' },
});
if (!events.ok || !events.body) throw new Error(`GET ${run.links.events}: ${events.status}`);
let buffer = '';
for await (const chunk of events.body.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let end: number;
  while ((end = buffer.indexOf('\n\n')) >= 0) {
    const frame = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const field = (name: string) =>
      frame
        .split('\n')
        .find((l) => l.startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    const event = field('event');
    if (!event) continue; // a `: keep-alive` comment
    const data = JSON.parse(field('data') ?? '{}') as { stage?: string; error?: string };
    console.log(
      `#${field('id')} ${event}${data.stage ? ` ${data.stage}` : ''}${data.error ? ` (${data.error})` : ''}`,
    );
  }
}

const final = await fetch(`${gatewayUrl}/api/runs/${run.runId}`, { headers: auth });
const view = (await final.json()) as { status: string; result: unknown };
console.log(`run ${run.runId} ${view.status}`, JSON.stringify(view.result));
