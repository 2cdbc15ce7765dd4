import {
  type BusConnection,
  BusPublisher,
  closeBus,
  connectBus,
  Header,
  KvKeyRegistry,
  replayMessage,
  subjectMatches,
} from '@heady/bus';
import { type CommonConfig, loadCliConfig } from '@heady/config';
import { createDb } from '@heady/db';
import { loadIdentity, loadRootPublicKey, MessageSigner, newEpoch } from '@heady/pqc';
import { type Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { type Output, table } from '../output.js';

interface StoredView {
  seq: number;
  subject: string;
  time: string;
  headers: Record<string, string>;
  bytes: number;
}

async function withBus<T>(
  fn: (bus: BusConnection, config: CommonConfig) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig();
  const bus = await connectBus(config, 'heady-cli');
  try {
    return await fn(bus, config);
  } finally {
    await closeBus(bus);
  }
}

/** A publisher signing as the operator `name` (its identity from `heady keys issue <name> --operator`). */
async function operatorPublisher(
  bus: BusConnection,
  config: CommonConfig,
  name: string,
): Promise<BusPublisher> {
  const dir = config.signing.keysDir;
  const identity = loadIdentity(dir, name);
  if (identity.cert.kind !== 'operator') {
    throw new Error(`${name} is not an operator key (heady keys issue ${name} --operator -s '>')`);
  }
  const registry = await KvKeyRegistry.open(bus.nc, loadRootPublicKey(dir));
  await registry.putIdentity(identity.cert);
  const epoch = newEpoch(identity, `${name}-cli`, 3_600_000);
  await registry.putEpoch(epoch.cert);
  const signer = new MessageSigner(epoch, {
    // a batch's signature is stored once in the registry, as the services do
    publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
  });
  return new BusPublisher(bus, undefined, signer);
}

async function stored(bus: BusConnection, stream: string, seq: number): Promise<StoredView> {
  const m = await bus.jsm.streams.getMessage(stream, { seq });
  if (!m) throw new Error(`no message ${stream}/${seq}`);
  const headers: Record<string, string> = {};
  for (const k of m.header?.keys() ?? []) headers[k] = m.header?.get(k) ?? '';
  return { seq, subject: m.subject, time: m.time.toISOString(), headers, bytes: m.data.length };
}

/** Writes an operator action to `audit_logs`. */
async function audit(
  config: CommonConfig,
  actor: string,
  action: string,
  target: string,
  details: Record<string, unknown>,
): Promise<void> {
  const db = createDb({ url: config.database.url, poolMax: 1, applicationName: 'heady-cli' });
  try {
    await db
      .insertInto('audit_logs')
      .values({
        id: randomUUID(),
        actor: `operator:${actor}`,
        action,
        target,
        status: 'ok',
        details,
        timestamp: new Date(),
      })
      .execute();
  } finally {
    await db.destroy();
  }
}

/** `heady streams ls`, `heady dlq ls | show | redrive | drop`, `heady replay`. */
export function opsCommands(program: Command, out: Output): void {
  program
    .command('streams')
    .description('JetStream streams')
    .command('ls')
    .description('streams with their messages, and each consumer with its lag')
    .action(async () => {
      const rows = await withBus(async (bus) => {
        const list = [];
        for (const s of await bus.jsm.streams.list().next()) {
          const consumers = (await bus.jsm.consumers.list(s.config.name).next()).map((c) => ({
            name: c.name,
            pending: c.num_pending,
            ackPending: c.num_ack_pending,
            redelivered: c.num_redelivered,
          }));
          list.push({
            stream: s.config.name,
            messages: s.state.messages,
            bytes: s.state.bytes,
            firstSeq: s.state.first_seq,
            lastSeq: s.state.last_seq,
            consumers,
          });
        }
        return list;
      });
      out.result(rows, (v) =>
        table(
          ['stream', 'messages', 'last seq', 'consumer', 'lag', 'ack pending'],
          v.flatMap((s) =>
            (s.consumers.length ? s.consumers : [undefined]).map((c, i) => [
              i === 0 ? s.stream : '',
              i === 0 ? String(s.messages) : '',
              i === 0 ? String(s.lastSeq) : '',
              c?.name ?? '',
              c ? String(c.pending) : '',
              c ? String(c.ackPending) : '',
            ]),
          ),
        ),
      );
    });

  const dlq = program.command('dlq').description('dead letters (the DLQ stream)');
  dlq
    .command('ls')
    .description('dead letters, oldest first, with where they came from and why')
    .option('-n, --limit <n>', 'at most this many', '100')
    .action(async (opts: { limit: string }) => {
      const rows = await withBus(async (bus) => {
        const info = await bus.jsm.streams.info('DLQ');
        const list: StoredView[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          if (list.length >= Number(opts.limit)) break;
          const m = await stored(bus, 'DLQ', seq).catch(() => undefined); // dropped ones
          if (m) list.push(m);
        }
        return list.map((m) => ({
          seq: m.seq,
          from: `${m.headers[Header.DlqStream] ?? '?'}/${m.headers[Header.DlqSeq] ?? '?'}`,
          subject: m.headers[Header.DlqSubject] ?? m.subject,
          at: m.headers[Header.DlqAt] ?? m.time,
          reason: m.headers[Header.DlqReason] ?? '',
        }));
      });
      out.result(rows, (v) =>
        table(
          ['seq', 'from', 'subject', 'at', 'reason'],
          v.map((r) => [String(r.seq), r.from, r.subject, r.at, r.reason]),
        ),
      );
    });
  dlq
    .command('show <seq>')
    .description('one dead letter with all its headers')
    .action(async (seq: string) => {
      const m = await withBus((bus) => stored(bus, 'DLQ', Number(seq)));
      out.result(m, (v) =>
        [
          `DLQ/${v.seq}  ${v.subject}  ${v.time}  ${v.bytes} bytes`,
          ...Object.entries(v.headers).map(([k, x]) => `  ${k}: ${x}`),
        ].join('\n'),
      );
    });
  dlq
    .command('drop <seq>')
    .description('delete a dead letter')
    .action(async (seq: string) => {
      const dropped = await withBus((bus) => bus.jsm.streams.deleteMessage('DLQ', Number(seq)));
      out.result({ seq: Number(seq), dropped }, (v) => `DLQ/${v.seq} dropped`);
    });
  dlq
    .command('redrive <seq>')
    .description(
      'publish a dead letter again on its original subject, signed by the operator, and audit it',
    )
    .option('--to-stage <stage>', 'publish on pipeline.stage.<stage> instead')
    .option('--as <operator>', 'operator key to sign with', 'operator')
    .action(async (seq: string, opts: { toStage?: string; as: string }) => {
      const r = await withBus(async (bus, config) => {
        const m = await stored(bus, 'DLQ', Number(seq));
        const toSubject = opts.toStage
          ? `pipeline.stage.${opts.toStage}`
          : (m.headers[Header.DlqSubject] ?? m.subject);
        const pub = await operatorPublisher(bus, config, opts.as);
        const res = await replayMessage(bus.jsm, pub, 'DLQ', Number(seq), { toSubject });
        await audit(config, opts.as, 'dlq.redrive', `DLQ/${seq}`, {
          toSubject,
          replayOf: res.replayOf,
          streamSeq: res.ack.seq,
        });
        return {
          seq: Number(seq),
          subject: toSubject,
          replayOf: res.replayOf,
          newSeq: res.ack.seq,
        };
      });
      out.result(r, (v) => `DLQ/${v.seq} redriven to ${v.subject} (PIPELINE seq ${v.newSeq})`);
    });

  program
    .command('replay')
    .description(
      're-publish stored messages, signed by the operator with a reference to each original',
    )
    .requiredOption('--stream <stream>', 'stream to read')
    .option('--subject <filter>', 'only subjects matching this filter (* and > wildcards)')
    .option('--from-seq <n>', 'first sequence')
    .option('--since <time>', 'messages stored at or after this ISO time')
    .option('--to-subject <subject>', 'publish on this subject instead of each original')
    .option('--dry-run', 'list what would be replayed, publish nothing')
    .option('--as <operator>', 'operator key to sign with', 'operator')
    .action(
      async (opts: {
        stream: string;
        subject?: string;
        fromSeq?: string;
        since?: string;
        toSubject?: string;
        dryRun?: boolean;
        as: string;
      }) => {
        if ((opts.fromSeq === undefined) === (opts.since === undefined)) {
          out.fail('give exactly one of --from-seq and --since');
          return;
        }
        const since = opts.since ? Date.parse(opts.since) : undefined;
        if (since !== undefined && Number.isNaN(since)) {
          out.fail(`--since: not a time: ${opts.since}`);
          return;
        }
        const done = await withBus(async (bus, config) => {
          const info = await bus.jsm.streams.info(opts.stream);
          const last = info.state.last_seq;
          const first = Math.max(info.state.first_seq, Number(opts.fromSeq ?? 0));
          const pub = opts.dryRun ? undefined : await operatorPublisher(bus, config, opts.as);
          const list: { seq: number; subject: string; to: string }[] = [];
          for (let seq = first; seq <= last; seq++) {
            const m = await stored(bus, opts.stream, seq).catch(() => undefined);
            if (!m) continue;
            if (since !== undefined && Date.parse(m.time) < since) continue;
            if (opts.subject && !subjectMatches(opts.subject, m.subject)) continue;
            const to = opts.toSubject ?? m.subject;
            if (pub) await replayMessage(bus.jsm, pub, opts.stream, seq, { toSubject: to });
            list.push({ seq, subject: m.subject, to });
            if (list.length % 100 === 0) process.stderr.write(`\rreplayed ${list.length}…`);
          }
          if (pub && list.length) {
            await audit(config, opts.as, 'stream.replay', opts.stream, {
              count: list.length,
              from: list[0]?.seq,
              to: list.at(-1)?.seq,
              toSubject: opts.toSubject ?? null,
            });
          }
          return { dryRun: !!opts.dryRun, replayed: list };
        });
        out.result(done, (v) =>
          [
            ...v.replayed.map((r) => `${opts.stream}/${r.seq}  ${r.subject} → ${r.to}`),
            `${v.dryRun ? 'would replay' : 'replayed'} ${v.replayed.length} message(s)`,
          ].join('\n'),
        );
      },
    );
}
