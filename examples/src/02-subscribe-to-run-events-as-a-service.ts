// Subscribes to every run's events the way an internal service would: a durable consumer on
// RUN_EVENTS (`runs.<runId>.<event>`), each message verified before it is used, acked once
// handled, so a restart resumes where it stopped. Usage, while `npm start` runs (start a run
// in another terminal with example 01): node examples/dist/02-subscribe-to-run-events-as-a-service.js
// Ctrl-C stops it; the consumer is removed by the server after an hour without this program.
import { toJson } from '@bufbuild/protobuf';
import { closeBus, connectBus, Header } from '@heady/bus';
import { loadCliConfig } from '@heady/config';
import { RunEventSchema } from '@heady/contracts';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { runEvent, useLocalNats } from './local.js';
import { storedMessageVerifier } from './verify.js';

const DURABLE = 'example-run-events';

useLocalNats();
const config = loadCliConfig();
const bus = await connectBus(config, 'example-run-events');
const verify = await storedMessageVerifier(bus, config);

await bus.jsm.consumers.add('RUN_EVENTS', {
  durable_name: DURABLE,
  filter_subject: 'runs.*.>',
  deliver_policy: DeliverPolicy.New,
  ack_policy: AckPolicy.Explicit,
  inactive_threshold: nanos(3_600_000),
});
const messages = await (await jetstream(bus.nc).consumers.get('RUN_EVENTS', DURABLE)).consume();
process.once('SIGINT', () => void messages.close());
console.log(`following run events on RUN_EVENTS as ${DURABLE}; Ctrl-C stops`);

for await (const m of messages) {
  const v = await verify(m);
  if (!v.ok) {
    // a Heady consumer dead-letters it; here it is only reported and left alone
    console.log(`RUN_EVENTS/${m.seq} refused: ${v.reason}`);
    m.term();
    continue;
  }
  const ev = runEvent(m.headers?.get(Header.ContentType), m.data);
  if (!ev) {
    console.log(`RUN_EVENTS/${m.seq} is not a run event`);
    m.term();
    continue;
  }
  const json = toJson(RunEventSchema, ev) as { status?: string };
  console.log(
    `${ev.runId} ${ev.event}${ev.stage ? ` ${ev.stage}` : ''}${json.status ? ` ${json.status}` : ''}`,
  );
  m.ack();
}
await closeBus(bus);
process.exit(0);
