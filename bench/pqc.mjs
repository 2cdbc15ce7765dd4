// npm run bench:pqc — what post-quantum signing costs, measured against the unsigned
// baseline in the same run, through a real JetStream (a nats-server of its own).
//   publisher: msgs/s for one publisher, unsigned vs signed (composite ML-DSA-65 +
//              Ed25519, Merkle batches), with up to --window publishes in flight;
//   consumer:  msgs/s for one consumer, ack only vs verify-then-ack;
//   latency:   per-message publish latency (call → PubAck) p50/p99, unsigned vs signed,
//              at low load (one at a time) and at high load (--window in flight).
// Usage: npm run bench:pqc -- [--messages 5000] [--window 256]
import { parseArgs } from 'node:util';
import { BusPublisher, KvKeyRegistry, connectBus, closeBus } from '@heady/bus';
import {
  MessageSigner,
  MessageVerifier,
  compositeKeygen,
  compositeSign,
  compositeVerify,
  issueCertificate,
  keyId,
  newEpoch,
} from '@heady/pqc';
import { startNatsServer } from '@heady/testing';
import { AckPolicy } from '@nats-io/jetstream';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    window: { type: 'string', default: '256' },
  },
});
const N = Number(values.messages);
const WINDOW = Number(values.window);
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
const payload = {
  json: { runId: '00000000-0000-4000-8000-000000000000', stage: 'plan', note: 'x'.repeat(120) },
};

const nats = await startNatsServer();
const config = {
  service: 'bench',
  instanceId: 'bench-1',
  nats: {
    url: nats.url,
    rpcTimeoutMs: 5000,
    streamMaxAgeDays: 1,
    duplicateWindowSeconds: 120,
    consumerConcurrency: 32,
  },
};
const bus = await connectBus(config);
let signed;
/** @type {MessageSigner | undefined} */
let signer;
try {
  await bus.jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'] });
  // keys: root → identity → epoch, registered in heady-keys like a service does at boot
  const root = compositeKeygen();
  const idKey = compositeKeygen();
  const identity = {
    key: idKey,
    cert: issueCertificate(
      { kid: keyId(root.publicKey), secretKey: root.secretKey },
      {
        kind: 'identity',
        service: 'bench',
        publicKey: idKey.publicKey,
        subjects: ['bench.>'],
        notBefore: 0,
        notAfter: Date.now() + 3_600_000,
      },
    ),
  };
  const epoch = newEpoch(identity, 'bench-1', 3_600_000);
  const registry = await KvKeyRegistry.open(bus.nc, root.publicKey);
  await registry.putIdentity(identity.cert);
  await registry.putEpoch(epoch.cert);

  // raw primitive cost on this machine, for reference
  const k = compositeKeygen();
  const m = new Uint8Array(64);
  let t = performance.now();
  let sig;
  for (let i = 0; i < 50; i++) sig = compositeSign(k.secretKey, m);
  const signMs = (performance.now() - t) / 50;
  t = performance.now();
  for (let i = 0; i < 50; i++) compositeVerify(k.publicKey, m, /** @type {Uint8Array} */ (sig));
  const verifyMs = (performance.now() - t) / 50;
  process.stdout.write(
    `composite ML-DSA-65+Ed25519 on one core: sign ${fmt(signMs, 2)} ms (${fmt(1000 / signMs)}/s), verify ${fmt(verifyMs, 2)} ms (${fmt(1000 / verifyMs)}/s)\n`,
  );

  const unsigned = new BusPublisher(bus);
  signer = new MessageSigner(epoch, {
    maxBatch: 256,
    maxDelayMs: 2,
    publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
  });
  signed = new BusPublisher(bus, undefined, signer);

  async function publishMany(pub, subject, count, window) {
    const lat = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (next < count) {
          const i = next++;
          const s = performance.now();
          await pub.publish(subject, payload, { msgId: `${subject}:${i}` });
          lat.push(performance.now() - s);
        }
      }),
    );
    return { rate: count / ((performance.now() - t0) / 1000), lat: lat.sort((a, b) => a - b) };
  }

  const pu = await publishMany(unsigned, 'bench.unsigned', N, WINDOW);
  const ps = await publishMany(signed, 'bench.signed', N, WINDOW);
  process.stdout.write(
    `publisher (${fmt(N)} msgs, ${WINDOW} in flight): unsigned ${fmt(pu.rate)} msg/s, signed ${fmt(ps.rate)} msg/s → ratio ${fmt((ps.rate / pu.rate) * 100, 1)}% (batches: ${fmt(signer.stats.batches)}, ${fmt(signer.stats.messages / Math.max(1, signer.stats.batches), 1)} msgs/batch)\n`,
  );
  process.stdout.write(
    `latency at high load (call → PubAck): unsigned p50 ${fmt(pct(pu.lat, 50), 2)} ms p99 ${fmt(pct(pu.lat, 99), 2)} ms; signed p50 ${fmt(pct(ps.lat, 50), 2)} ms p99 ${fmt(pct(ps.lat, 99), 2)} ms\n`,
  );

  const LOW = 300;
  const lu = await publishMany(unsigned, 'bench.lowu', LOW, 1);
  const ls = await publishMany(signed, 'bench.lows', LOW, 1);
  process.stdout.write(
    `latency at low load (one at a time, ${LOW} msgs): unsigned p50 ${fmt(pct(lu.lat, 50), 2)} ms p99 ${fmt(pct(lu.lat, 99), 2)} ms; signed p50 ${fmt(pct(ls.lat, 50), 2)} ms p99 ${fmt(pct(ls.lat, 99), 2)} ms → added p50 ${fmt(pct(ls.lat, 50) - pct(lu.lat, 50), 2)} ms\n`,
  );

  async function consumeAll(subject, durable, verifier) {
    await bus.jsm.consumers.add('BENCH', {
      durable_name: durable,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 10_000,
    });
    const c = await bus.js.consumers.get('BENCH', durable);
    const it = await c.consume({ max_messages: 512 });
    let n = 0;
    let bad = 0;
    const t0 = performance.now();
    for await (const msg of it) {
      if (verifier) {
        const v = await verifier.verify({
          subject: msg.subject,
          msgId: msg.headers?.get('Nats-Msg-Id') ?? '',
          contentType: msg.headers?.get('Content-Type') ?? '',
          payload: msg.data,
          header: (h) => msg.headers?.get(h) || undefined,
          storedAt: Math.floor(Number(msg.info.timestampNanos) / 1e6),
        });
        if (!v.ok) bad++;
      }
      msg.ack();
      if (++n >= N) break;
    }
    return { rate: N / ((performance.now() - t0) / 1000), bad };
  }
  const cu = await consumeAll('bench.unsigned', 'cu', undefined);
  const verifier = new MessageVerifier(registry, {
    rootPublicKey: root.publicKey,
    maxSkewMs: 3_600_000,
  });
  const cs = await consumeAll('bench.signed', 'cs', verifier);
  process.stdout.write(
    `consumer (${fmt(N)} msgs): ack only ${fmt(cu.rate)} msg/s, verify+ack ${fmt(cs.rate)} msg/s → ratio ${fmt((cs.rate / cu.rate) * 100, 1)}% (${cs.bad} rejected)\n`,
  );
} finally {
  await signer?.close();
  await closeBus(bus);
  await nats.stop();
}
