import { subjectMatches } from '@heady/bus';
import { sql } from '@heady/db';
import { withSystem } from '@heady/testing/fixtures';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { postRun, useApiKey, waitTerminal } from './helpers.js';

const ACK_WAIT_MS = 1_000;
const WINDOW_S = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The rejection storm of issue 23: forged messages must be dead-lettered and audited once,
// settled for good, and start nothing that feeds itself — with signing on, as in production.
describe('forged messages on a running system', () => {
  const system = withSystem({
    database: 'heady_e2e_rejections',
    services: ['conductor', 'pipeline', 'gateway'],
    env: {
      HEADY_STAGE_ACK_WAIT_MS: String(ACK_WAIT_MS),
      HEADY_DUPLICATE_WINDOW_SECONDS: String(WINDOW_S),
    },
    client: true,
  });
  let js: JetStreamClient;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    useApiKey(system.credentials.admin.key);
    js = jetstream(system.nc);
    jsm = await jetstreamManager(system.nc);
  });

  /** Counts of what a storm would grow. */
  async function growth(): Promise<{ dlq: number; audit: number; rows: number }> {
    const rows = await system.db
      .selectFrom('audit_logs')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('action', '=', 'MESSAGE_REJECTED')
      .executeTakeFirstOrThrow();
    return {
      dlq: (await jsm.streams.info('DLQ')).state.messages,
      audit: (await jsm.streams.info('AUDIT')).state.last_seq,
      rows: rows.n,
    };
  }

  // 18 s in CI
  it('dead-letters and audits each forged message once, settles it, and nothing more follows', async () => {
    const run = await postRun(system.gatewayUrl, { action: 'analyze', input: { text: 'genuine' } });
    expect(run.status).toBe(202);
    const [view] = await waitTerminal(system.gatewayUrl, [run.body.runId as string]);
    expect(view?.status).toBe('SUCCEEDED');
    // a genuine stage command, as an operator with a plain NATS client would copy it
    const stored = await jsm.streams.getMessage('PIPELINE', { seq: 1 });
    if (!stored) throw new Error('no stored stage command');
    const copied = (): ReturnType<typeof headers> => {
      const h = headers();
      for (const k of stored.header.keys()) h.set(k, stored.header.get(k));
      return h;
    };
    const before = await growth();

    const forged: { stream: string; seq: number; subject: string }[] = [];
    const publish = async (
      subject: string,
      data: Uint8Array,
      h: ReturnType<typeof headers>,
      id: string,
    ) => {
      const ack = await js.publish(subject, data, { msgID: id, headers: h });
      forged.push({ stream: ack.stream, seq: ack.seq, subject });
    };
    // 1. tampered payload under the copied (valid) headers
    await publish(
      stored.subject,
      Uint8Array.from(stored.data, (b, i) => (i === 2 ? b ^ 1 : b)),
      copied(),
      'forged:tampered',
    );
    // 2. no signature at all
    const plain = headers();
    plain.set('Content-Type', stored.header.get('Content-Type'));
    await publish('pipeline.stage.plan', stored.data, plain, 'forged:unsigned');
    // 3. the valid message re-published on another subject
    await publish('pipeline.stage.ingest', stored.data, copied(), 'forged:moved');
    // 4. a forged audit event
    const audit = headers();
    audit.set('Content-Type', 'application/json');
    await publish(
      'audit.security.rejected',
      new TextEncoder().encode('{"action":"MESSAGE_REJECTED"}'),
      audit,
      'audit:rejected:PIPELINE:1',
    );

    // three ack waits and two duplicate windows: time for every redelivery and re-store
    await sleep(3 * ACK_WAIT_MS + 2 * WINDOW_S * 1000 + 1_000);

    const letters = (await system.heady(['dlq', 'ls', '--limit', '5000'])) as {
      from: string;
      class: string;
    }[];
    for (const f of forged)
      expect(
        letters.filter((l) => l.from === `${f.stream}/${f.seq}`),
        `${f.stream}/${f.seq}`,
      ).toHaveLength(1);
    expect(letters).toHaveLength(before.dlq + forged.length);
    expect(letters.every((l) => l.class.startsWith('rejected:'))).toBe(true);

    const rows = await system.db
      .selectFrom('audit_logs')
      .select(['details', 'target'])
      .where('action', '=', 'MESSAGE_REJECTED')
      .execute();
    expect(rows).toHaveLength(before.rows + forged.length);
    for (const f of forged)
      expect(
        rows.filter((r) => {
          const d = r.details as { stream?: string; seq?: number };
          return d.stream === f.stream && Number(d.seq) === f.seq;
        }),
        `${f.stream}/${f.seq}`,
      ).toHaveLength(1);

    // every consumer's ack floor has passed them: none pending, none handed out again
    for (const stream of ['PIPELINE', 'AUDIT']) {
      for await (const c of jsm.consumers.list(stream)) {
        expect(c.num_ack_pending, c.name).toBe(0);
        expect(c.num_redelivered, c.name).toBe(0);
        const mine = forged.filter(
          (f) => f.stream === stream && subjectMatches(c.config.filter_subject ?? '>', f.subject),
        );
        for (const f of mine)
          expect(c.ack_floor.stream_seq, `${c.name} ${f.subject}`).toBeGreaterThanOrEqual(f.seq);
      }
    }

    // and nothing more afterwards
    const settled = await growth();
    await sleep(2 * ACK_WAIT_MS + WINDOW_S * 1000);
    expect(await growth()).toEqual(settled);
  }, 120_000);
});
