import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type BusConnection,
  BusPublisher,
  Header,
  KvKeyRegistry,
  listDeadLetters,
  replayMessage,
  subjectMatches,
  verifyStored,
} from '@heady/bus';
import { type CommonConfig } from '@heady/config';
import {
  STAGE_NAMES,
  StageCommandSchema,
  isStageName,
  stageNum,
  stageSubject,
} from '@heady/contracts';
import { AuditLogRepository } from '@heady/db';
import {
  loadIdentity,
  loadRootPublicKey,
  MessageSigner,
  MessageVerifier,
  newEpoch,
} from '@heady/pqc';
import { type Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withBus, withDb } from '../connect.js';
import { type Output, table } from '../output.js';
import { StreamsRepository } from '../repositories/streams.repository.js';
import { parseCount, parseTimeArg } from '../time.js';

/**
 * The verifier a consumer would use (the registry, checked up to the root of the keys
 * directory): replay and redrive verify each original with it before re-signing.
 */
async function consumerVerifier(
  bus: BusConnection,
  config: CommonConfig,
): Promise<{ registry: KvKeyRegistry; verifier: MessageVerifier }> {
  const rootPublicKey = loadRootPublicKey(config.signing.keysDir);
  const registry = await KvKeyRegistry.open(bus.nc, rootPublicKey);
  const verifier = new MessageVerifier(registry, {
    rootPublicKey,
    maxSkewMs: config.signing.maxSkewMs,
  });
  return { registry, verifier };
}

/**
 * A publisher signing as the operator `name` (its identity from `heady keys issue <name>
 * --operator`), and the verifier its replays are checked with first.
 */
async function operatorPublisher(
  bus: BusConnection,
  config: CommonConfig,
  name: string,
): Promise<{ pub: BusPublisher; verifier: MessageVerifier }> {
  const dir = config.signing.keysDir;
  const hint = `npx heady keys issue ${name} --operator -s '>'`;
  // loadIdentity's own hint would issue a service identity, which cannot replay
  if (!existsSync(join(dir, `${name}.json`)))
    throw new Error(`no operator key ${name} in ${dir}; run: ${hint}`);
  const identity = loadIdentity(dir, name);
  if (identity.cert.kind !== 'operator') {
    throw new Error(`${name} is not an operator key (${hint})`);
  }
  const { registry, verifier } = await consumerVerifier(bus, config);
  await registry.putIdentity(identity.cert);
  const epoch = newEpoch(identity, `${name}-cli`, 3_600_000);
  await registry.putEpoch(epoch.cert);
  const signer = new MessageSigner(epoch, {
    // a batch's signature is stored once in the registry, as the services do
    publishSignature: (kid, root, sig) => registry.putSignature(kid, root, sig),
  });
  return { pub: new BusPublisher(bus, undefined, signer), verifier };
}

/**
 * `--to-stage X`: the stage command names stage X (and its position, and the stages before
 * it as completed), so stage X's runner runs X — the subject alone does not decide what a
 * stage runner does, the command's `stage` field does.
 */
function retargetStageCommand(
  stage: string,
): (data: Uint8Array, contentType: string) => Uint8Array {
  return (data, contentType) => {
    if (!contentType.includes(StageCommandSchema.typeName))
      throw new Error(`--to-stage needs a stage command; this message is ${contentType}`);
    const cmd = fromBinary(StageCommandSchema, data);
    if (!isStageName(stage)) throw new Error(`unknown stage ${stage}`);
    cmd.stage = stage;
    cmd.stageNum = stageNum(stage);
    if (cmd.slip) {
      const itinerary = cmd.slip.itinerary.length ? cmd.slip.itinerary : [...STAGE_NAMES];
      cmd.slip.completed = itinerary.slice(0, Math.max(0, itinerary.indexOf(stage)));
    }
    return toBinary(StageCommandSchema, cmd);
  };
}

/** Writes an operator action to `audit_logs`. */
function audit(
  actor: string,
  action: string,
  target: string,
  details: Record<string, unknown>,
): Promise<void> {
  return withDb((db) =>
    new AuditLogRepository(db).insert({
      id: randomUUID(),
      actor: `operator:${actor}`,
      action,
      target,
      status: 'ok',
      details,
      timestamp: new Date(),
    }),
  );
}

/** `heady streams ls`, `heady dlq ls | show | redrive | drop`, `heady replay`. */
export function opsCommands(program: Command, out: Output): void {
  program
    .command('streams')
    .description('JetStream streams')
    .command('ls')
    .description('streams with their messages, and each consumer with its lag')
    .action(async () => {
      const rows = await withBus((bus) => new StreamsRepository(bus).list());
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
    .description(
      'dead letters with where they came from and why: oldest first a page at a time (--limit, then --from-seq), or --newest first',
    )
    .option('-n, --limit <n>', 'at most this many', '100')
    .option(
      '--from-seq <seq>',
      'start at this DLQ sequence (the next page: the last one listed + 1)',
    )
    .option('--newest', 'the newest --limit letters, newest first')
    .option('--reason <class>', 'only this reason class (rejected:<why>, max-deliveries, ...)')
    .option(
      '--stream <stream>',
      'only letters dead-lettered from this stream (PIPELINE, WORK, ...)',
    )
    .option(
      '--since <time>',
      'only letters stored since then: a duration (5m, 2h, 7d) or an ISO time',
    )
    .action(
      async (opts: {
        limit: string;
        fromSeq?: string;
        newest?: boolean;
        reason?: string;
        stream?: string;
        since?: string;
      }) => {
        const limit = parseCount('--limit', opts.limit);
        const fromSeq = opts.fromSeq === undefined ? 1 : parseCount('--from-seq', opts.fromSeq);
        if (opts.newest && opts.fromSeq !== undefined)
          throw new Error(
            '--newest lists back from the newest: narrow it with --since, not --from-seq',
          );
        if (opts.stream !== undefined && !/^[A-Za-z0-9_-]+$/.test(opts.stream))
          throw new Error(`--stream: not a stream name: ${opts.stream}`);
        const since = opts.since === undefined ? undefined : parseTimeArg('--since', opts.since);
        const page = await withBus((bus) =>
          listDeadLetters(bus, {
            fromSeq,
            limit,
            ...(opts.newest ? { newest: true } : {}),
            ...(opts.reason ? { reason: opts.reason } : {}),
            ...(opts.stream ? { stream: opts.stream } : {}),
            ...(since ? { since } : {}),
          }),
        );
        out.result(page.rows, (v) =>
          [
            table(
              ['seq', 'from', 'subject', 'at', 'reason'],
              v.map((r) => [String(r.seq), r.from, r.subject, r.at, r.reason]),
            ),
            ...(page.next === undefined
              ? []
              : [`more: npx heady dlq ls --limit ${limit} --from-seq ${page.next}`]),
          ].join('\n'),
        );
      },
    );
  dlq
    .command('show <seq>')
    .description('one dead letter with all its headers')
    .action(async (seq: string) => {
      const m = await withBus(async (bus, config) => {
        const view = await new StreamsRepository(bus).stored('DLQ', Number(seq));
        // what its consumer would say of the original signature (why a redrive is refused)
        const v = await consumerVerifier(bus, config)
          .then(({ verifier }) => verifyStored(bus.jsm, verifier, 'DLQ', Number(seq)))
          .then(
            (r) => r.result,
            // no root.pub here, or the registry is unreachable: say so, still show the letter
            (e: unknown) => ({ ok: false as const, reason: 'unverifiable', detail: String(e) }),
          );
        const signature = v.ok
          ? { ok: true, signer: v.service, kid: v.kid, classification: v.classification }
          : { ok: false, reason: v.reason, detail: v.detail };
        return { ...view, signature };
      });
      out.result(m, (v) =>
        [
          `DLQ/${v.seq}  ${v.subject}  ${v.time}  ${v.bytes} bytes`,
          `  signature: ${v.signature.ok ? `valid (${v.signature.signer})` : `REJECTED (${v.signature.reason}: ${v.signature.detail}) — cannot be redriven; drop it`}`,
          ...Object.entries(v.headers).map(([k, x]) => `  ${k}: ${x}`),
        ].join('\n'),
      );
    });
  dlq
    .command('drop <seq>')
    .description('delete a dead letter')
    .action(async (seq: string) => {
      const dropped = await withBus((bus) => new StreamsRepository(bus).drop('DLQ', Number(seq)));
      out.result({ seq: Number(seq), dropped }, (v) => `DLQ/${v.seq} dropped`);
    });
  dlq
    .command('redrive <seq>')
    .description(
      'verify a dead letter as its consumer would, then publish it again on its original subject, signed by the operator, and audit it (a forged one is refused: drop it)',
    )
    .option('--to-stage <stage>', 'run stage <stage> instead: the command is rewritten to name it')
    .option('--as <operator>', 'operator key to sign with', 'operator')
    .action(async (seq: string, opts: { toStage?: string; as: string }) => {
      const r = await withBus(async (bus, config) => {
        const m = await new StreamsRepository(bus).stored('DLQ', Number(seq));
        if (opts.toStage && !isStageName(opts.toStage))
          throw new Error(
            `--to-stage: unknown stage ${opts.toStage} (one of ${STAGE_NAMES.join(', ')})`,
          );
        const toSubject =
          opts.toStage && isStageName(opts.toStage)
            ? stageSubject(opts.toStage)
            : (m.headers[Header.DlqSubject] ?? m.subject);
        const { pub, verifier } = await operatorPublisher(bus, config, opts.as);
        // throws ReplayRefusedError (and nothing is published) when the original does not verify
        const res = await replayMessage(bus.jsm, pub, verifier, 'DLQ', Number(seq), {
          toSubject,
          ...(opts.toStage ? { transform: retargetStageCommand(opts.toStage) } : {}),
        });
        await audit(opts.as, 'dlq.redrive', `DLQ/${seq}`, {
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
      're-publish stored messages, each verified as its consumer would, signed by the operator with a reference to the original',
    )
    .requiredOption('--stream <stream>', 'stream to read')
    .option('--subject <filter>', 'only subjects matching this filter (* and > wildcards)')
    .option('--from-seq <n>', 'first sequence')
    .option(
      '--since <time>',
      'messages stored at or after this time: a duration back from now (5m, 2h, 7d) or an ISO time',
    )
    .option(
      '--until <time>',
      'messages stored before this time (a duration back from now or an ISO time)',
    )
    .option('-n, --limit <n>', 'replay at most this many messages')
    .option('--to-subject <subject>', 'publish on this subject instead of each original')
    .option('--dry-run', 'list what would be replayed, publish nothing')
    .option('--as <operator>', 'operator key to sign with', 'operator')
    .action(
      async (opts: {
        stream: string;
        subject?: string;
        fromSeq?: string;
        since?: string;
        until?: string;
        limit?: string;
        toSubject?: string;
        dryRun?: boolean;
        as: string;
      }) => {
        if ((opts.fromSeq === undefined) === (opts.since === undefined)) {
          out.fail('give exactly one of --from-seq and --since');
          return;
        }
        const now = Date.now();
        const since = opts.since ? parseTimeArg('--since', opts.since, now).getTime() : undefined;
        const until = opts.until ? parseTimeArg('--until', opts.until, now).getTime() : undefined;
        const limit = opts.limit === undefined ? undefined : parseCount('--limit', opts.limit);
        if (since !== undefined && until !== undefined && since >= until) {
          out.fail('--since must be before --until');
          return;
        }
        const done = await withBus(async (bus, config) => {
          const streams = new StreamsRepository(bus);
          const { firstSeq, lastSeq: last } = await streams.bounds(opts.stream);
          const first = Math.max(firstSeq, Number(opts.fromSeq ?? 0));
          const op = opts.dryRun ? undefined : await operatorPublisher(bus, config, opts.as);
          const list: { seq: number; subject: string; to: string }[] = [];
          try {
            for (let seq = first; seq <= last; seq++) {
              if (limit !== undefined && list.length >= limit) break;
              const m = await streams.stored(opts.stream, seq).catch(() => undefined);
              if (!m) continue;
              if (since !== undefined && Date.parse(m.time) < since) continue;
              // a stream stores in time order: nothing later is before --until either
              if (until !== undefined && Date.parse(m.time) >= until) break;
              if (opts.subject && !subjectMatches(opts.subject, m.subject)) continue;
              const to = opts.toSubject ?? m.subject;
              // a message that does not verify stops the replay (ReplayRefusedError says why)
              if (op)
                await replayMessage(bus.jsm, op.pub, op.verifier, opts.stream, seq, {
                  toSubject: to,
                });
              list.push({ seq, subject: m.subject, to });
              if (list.length % 100 === 0) process.stderr.write(`\rreplayed ${list.length}…`);
            }
          } finally {
            // what was re-published before a refusal is audited too
            if (op && list.length) {
              await audit(opts.as, 'stream.replay', opts.stream, {
                count: list.length,
                from: list[0]?.seq,
                to: list.at(-1)?.seq,
                toSubject: opts.toSubject ?? null,
              });
            }
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
