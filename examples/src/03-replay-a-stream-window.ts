// Reads a window of RUN_EVENTS back from JetStream: every run event stored between two
// times (default: the last 10 minutes), each with its sequence, time and whether its
// signature verifies. Streams keep messages for HEADY_STREAM_MAX_AGE_DAYS, so any window
// inside that can be read again. Reading re-publishes nothing; to re-publish a window, see
// `npx heady replay` in docs/durable-runs.md.
// Usage, while `npm start` runs: node examples/dist/03-replay-a-stream-window.js [minutes back] [minutes long]
import { closeBus, connectBus, Header } from '@heady/bus';
import { loadCliConfig } from '@heady/config';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { runEvent, useLocalNats } from './local.js';
import { storedMessageVerifier } from './verify.js';

const back = Number(process.argv[2] ?? 10);
const length = Number(process.argv[3] ?? back);
const from = new Date(Date.now() - back * 60_000);
const until = new Date(from.getTime() + length * 60_000);

useLocalNats();
const config = loadCliConfig();
const bus = await connectBus(config, 'example-replay-window');
const verify = await storedMessageVerifier(bus, config);

// an ordered consumer: ephemeral, in order, gone when this program ends
const consumer = await jetstream(bus.nc).consumers.get('RUN_EVENTS', {
  deliver_policy: DeliverPolicy.StartTime,
  opt_start_time: from.toISOString(),
});
console.log(`RUN_EVENTS from ${from.toISOString()} until ${until.toISOString()}`);
let count = 0;
for (;;) {
  const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
  let seen = 0;
  let done = false;
  for await (const m of batch) {
    seen++;
    const storedAt = new Date(Math.floor(Number(m.info.timestampNanos) / 1e6));
    if (storedAt > until) {
      done = true;
      break;
    }
    const v = await verify(m);
    const verdict = v.ok
      ? v.reason
        ? `unchecked (${v.reason})`
        : 'verified'
      : `NOT VERIFIED (${v.reason})`;
    const ev = runEvent(m.headers?.get(Header.ContentType), m.data);
    console.log(
      ev
        ? `#${m.seq} ${storedAt.toISOString()} ${ev.runId} ${ev.event}${ev.stage ? ` ${ev.stage}` : ''} ${verdict}`
        : `#${m.seq} ${storedAt.toISOString()} ${m.subject}: not a run event ${verdict}`,
    );
    count++;
    if (m.info.pending === 0) done = true;
  }
  if (done || seen === 0) break;
}
console.log(`${count} events`);
await closeBus(bus);
process.exit(0);
