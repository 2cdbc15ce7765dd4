import { closeBus, connectBus, BusPublisher, type BusConnection } from '@heady/bus';
import {
  ErrorCode,
  IngestKnowledge,
  type KnowledgeReceipt,
  ListKnowledgeReceipts,
} from '@heady/contracts';
import { createDb, type Database, ensureOrganization, type Kysely, sql } from '@heady/db';
import {
  createTestDatabase,
  startFakeModelServer,
  startNatsServer,
  type FakeModelServer,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { type INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentsRepository } from '../src/documents/documents.repository.js';
import { IngestService } from '../src/documents/ingest.service.js';
import { CloudPassageEmbedder } from '../src/embeddings/embedder.js';
import { KnowledgeEventsRepository } from '../src/events/knowledge-events.repository.js';
import { ReceiptsRepository } from '../src/receipts/receipts.repository.js';
import { AnnIndex } from '../src/search/ann-index.js';
import { OpenAICompatibleProvider } from '@heady/providers';
import { type KnowledgeVaultConfig } from '@heady/config';
import { startVaultInProcess as startVault } from '../src/in-process.js';

// Ingest against real PostgreSQL and NATS: receipts, duplicates, atomic replacement, the
// BM25 statistics kept in step, refusals, a provider that is down, receipt pages.
describe(IngestService.name, () => {
  let nats: TestNatsServer;
  let pg: TestDatabase;
  let fake: FakeModelServer;
  let app: INestMicroservice;
  let config: KnowledgeVaultConfig;
  let db: Kysely<Database>;
  let bus: BusConnection;
  let client: BusPublisher;
  let ingest: IngestService;
  let org: string;
  let other: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_vault_ingest');
    fake = await startFakeModelServer();
    const started = await startVault({
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_VAULT_DIMENSIONS: '64',
      HEADY_VAULT_CHUNK_CHARS: '200',
      HEADY_VAULT_CHUNK_OVERLAP_CHARS: '40',
      HEADY_VAULT_MAX_DOCUMENT_BYTES: '5000',
    });
    app = started.app;
    config = started.config;
    ingest = app.get(IngestService);
    db = createDb({ url: pg.url, poolMax: 2 });
    org = (await ensureOrganization(db, 'acme', 'PRO')).id;
    other = (await ensureOrganization(db, 'globex', 'PRO')).id;
    bus = await connectBus({ ...config, instanceId: 'vault-test-client' });
    client = new BusPublisher(bus);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await closeBus(bus).catch(() => undefined);
    await db?.destroy();
    await fake?.close();
    await pg?.drop();
    await nats?.stop();
  });

  const doc = (sourceId: string, content: string, title = sourceId) => ({
    sourceId,
    title,
    content,
  });
  const labels = async (orgId: string, sourceId: string): Promise<string[]> =>
    (
      await db
        .selectFrom('embeddings as e')
        .innerJoin('documents as d', 'd.id', 'e.document_id')
        .select(sql<string>`e.label::text`.as('label'))
        .where('d.org_id', '=', orgId)
        .where('d.source_id', '=', sourceId)
        .orderBy('e.ordinal')
        .execute()
    ).map((r) => r.label);
  const receiptsOf = (orgId: string, sourceId: string) =>
    db
      .selectFrom('memory_receipts')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('source_id', '=', sourceId)
      .orderBy('created_at')
      .execute();

  /** BM25's statistics as they should be: recounted from the passages and postings. */
  async function expectStatisticsInStep(orgId: string): Promise<void> {
    const corpus = await sql<{ n: string; l: string }>`
      SELECT count(*)::text AS n, coalesce(sum(length), 0)::text AS l FROM embeddings WHERE org_id = ${orgId}`.execute(
      db,
    );
    const kept = await db
      .selectFrom('knowledge_corpus_stats')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    expect([kept?.passages ?? '0', kept?.total_length ?? '0']).toEqual([
      corpus.rows[0]?.n,
      corpus.rows[0]?.l,
    ]);
    const drift = await sql<{ term: string }>`
      SELECT coalesce(s.term, p.term) AS term FROM knowledge_term_stats s
      FULL JOIN (SELECT term, count(*) AS df FROM knowledge_terms WHERE org_id = ${orgId} GROUP BY term) p
        ON p.term = s.term
      WHERE (s.org_id = ${orgId} OR s.org_id IS NULL) AND coalesce(s.df, 0) <> coalesce(p.df, 0)`.execute(
      db,
    );
    expect(drift.rows).toEqual([]);
  }

  it('stores a document as embedded passages with INGEST, EMBED and STORE receipts', async () => {
    const text =
      '# Tariffs\nThe steel tariff rose again this year. Farmers paid more for tools. ' +
      'Congress debated the duties for weeks.\n# Schools\nVaccination reached every school. ' +
      'Teachers were trained in every county.';
    const { receipts } = await client.call(
      IngestKnowledge,
      { orgId: org, source: 'UPLOAD', documents: [doc('a.md', text)] },
      { timeoutMs: 10_000 },
    );
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ operation: 'STORE', stored: true, sourceId: 'a.md' });
    const rows = await receiptsOf(org, 'a.md');
    expect(rows.map((r) => [r.operation, r.stored])).toEqual([
      ['INGEST', true],
      ['EMBED', true],
      ['STORE', true],
    ]);
    const passages = await db
      .selectFrom('embeddings')
      .selectAll()
      .where('document_id', '=', receipts[0]?.documentId as string)
      .orderBy('ordinal')
      .execute();
    expect(passages.length).toBeGreaterThanOrEqual(2);
    expect(passages[0]).toMatchObject({
      org_id: org,
      provider: 'LOCAL',
      model: 'local-hash-v1',
      dims: 64,
    });
    expect(passages[0]?.vector).toHaveLength(64);
    expect(passages[0]?.text.startsWith('Tariffs\n')).toBe(true);
    await expectStatisticsInStep(org);
  });

  it('stores nothing new for an unchanged document', async () => {
    const before = await labels(org, 'a.md');
    const text = (
      await db
        .selectFrom('documents')
        .select('content')
        .where('source_id', '=', 'a.md')
        .executeTakeFirstOrThrow()
    ).content;
    const [r] = (await ingest.ingest(org, 'UPLOAD', [doc('a.md', text)])).receipts;
    expect(r).toMatchObject({ operation: 'STORE', stored: false, reason: 'duplicate' });
    expect(await labels(org, 'a.md')).toEqual(before);
  });

  it('replaces the passages of a changed document in one transaction', async () => {
    const before = await labels(org, 'a.md');
    const [r] = (
      await ingest.ingest(org, 'UPLOAD', [
        doc('a.md', 'A new text about railways. It crossed the plains.'),
      ])
    ).receipts;
    expect(r).toMatchObject({ operation: 'STORE', stored: true });
    expect(r?.details).toMatchObject({ replaced: before.length, created: false, passages: 1 });
    const after = await labels(org, 'a.md');
    expect(after).toHaveLength(1);
    expect(after.some((l) => before.includes(l))).toBe(false);
    expect(
      await db.selectFrom('documents').select('id').where('source_id', '=', 'a.md').execute(),
    ).toHaveLength(1);
    await expectStatisticsInStep(org);
  });

  it('keeps organizations apart: the same source id is two documents', async () => {
    await ingest.ingest(other, 'UPLOAD', [doc('a.md', 'Globex keeps its own railway notes.')]);
    expect(await labels(other, 'a.md')).toHaveLength(1);
    expect(await labels(org, 'a.md')).toHaveLength(1);
    await expectStatisticsInStep(org);
    await expectStatisticsInStep(other);
  });

  it('refuses a batch with an empty, an oversized or an unsupported document, with DROP receipts', async () => {
    const count = async () =>
      Number(
        (await sql<{ n: string }>`SELECT count(*)::text AS n FROM documents`.execute(db)).rows[0]
          ?.n,
      );
    const n = await count();
    const cases = [
      {
        docs: [doc('ok.md', 'Fine text.'), doc('e.md', '  \n ')],
        code: ErrorCode.ValidationFailed,
        reason: 'empty',
      },
      {
        docs: [doc('big.md', 'x '.repeat(3000))],
        code: ErrorCode.PayloadTooLarge,
        reason: 'too_large',
      },
      {
        docs: [{ ...doc('pdf', 'binary'), contentType: 'application/pdf' }],
        code: ErrorCode.ValidationFailed,
        reason: 'unsupported_type',
      },
    ];
    for (const c of cases) {
      const err = await ingest.ingest(org, 'UPLOAD', c.docs).then(
        () => undefined,
        (e: unknown) => e as { code: string; details: { receipts: KnowledgeReceipt[] } },
      );
      expect(err?.code).toBe(c.code);
      const last = err?.details.receipts.at(-1);
      expect(last).toMatchObject({ operation: 'DROP', stored: false, reason: c.reason });
    }
    expect(await count()).toBe(n);
    expect((await receiptsOf(org, 'ok.md')).map((r) => r.reason)).toEqual(['batch_refused']);
  });

  it('says the embedding provider is down in an EMBED receipt and stores nothing', async () => {
    fake.respond(() => ({ status: 500 }));
    const cloud = new CloudPassageEmbedder(
      new OpenAICompatibleProvider({ baseURL: fake.openaiBaseURL, model: 'emb' }),
      'emb',
      64,
    );
    const down = new IngestService(
      config,
      app.get(DocumentsRepository),
      app.get(ReceiptsRepository),
      cloud,
      app.get(AnnIndex),
      app.get(KnowledgeEventsRepository),
    );
    const [r] = (await down.ingest(org, 'UPLOAD', [doc('down.md', 'Nothing will embed this.')]))
      .receipts;
    expect(r).toMatchObject({
      operation: 'EMBED',
      stored: false,
      reason: 'embedding_provider_down',
    });
    expect(await labels(org, 'down.md')).toEqual([]);
  });

  it('announces stored and dropped documents on KNOWLEDGE', async () => {
    const [r] = (await ingest.ingest(org, 'UPLOAD', [doc('gone.md', 'Soon to be deleted.')]))
      .receipts;
    const drop = await ingest.drop(org, r?.documentId as string, 'deleted');
    expect(drop.receipt).toMatchObject({ operation: 'DROP', stored: false, reason: 'deleted' });
    expect(await labels(org, 'gone.md')).toEqual([]);
    await expectStatisticsInStep(org);
    const jsm = await jetstreamManager(bus.nc);
    const stored = await jsm.streams.getMessage('KNOWLEDGE', {
      last_by_subj: 'knowledge.document.stored',
    });
    const dropped = await jsm.streams.getMessage('KNOWLEDGE', {
      last_by_subj: 'knowledge.document.dropped',
    });
    expect(stored?.json<{ sourceId: string }>().sourceId).toBe('gone.md');
    expect(dropped?.json<{ documentId: string; reason: string }>()).toMatchObject({
      documentId: r?.documentId,
      reason: 'deleted',
    });
    await expect(ingest.drop(org, r?.documentId as string, 'deleted')).rejects.toMatchObject({
      code: ErrorCode.DocumentNotFound,
    });
    // another organization cannot drop it either
    const [mine] = (await ingest.ingest(org, 'UPLOAD', [doc('kept.md', 'Mine alone.')])).receipts;
    await expect(ingest.drop(other, mine?.documentId as string, 'deleted')).rejects.toMatchObject({
      code: ErrorCode.DocumentNotFound,
    });
  });

  it('pages through receipts by cursor, filtered by source, time and document', async () => {
    const all: KnowledgeReceipt[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await client.call(
        ListKnowledgeReceipts,
        { orgId: org, limit: 3, ...(cursor ? { cursor } : {}) },
        { timeoutMs: 5000 },
      );
      all.push(...page.receipts);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const total = await db
      .selectFrom('memory_receipts')
      .select(sql<string>`count(*)::text`.as('n'))
      .where('org_id', '=', org)
      .executeTakeFirstOrThrow();
    expect(all).toHaveLength(Number(total.n));
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    const times = all.map((r) => r.createdAt);
    expect([...times].sort()).toEqual(times);

    const docId = all.find((r) => r.sourceId === 'kept.md' && r.documentId)?.documentId as string;
    const byDoc = await client.call(
      ListKnowledgeReceipts,
      { orgId: org, documentId: docId },
      { timeoutMs: 5000 },
    );
    expect(byDoc.receipts.map((r) => r.operation)).toEqual(['EMBED', 'STORE']);
    const since = all.at(-2)?.createdAt as string;
    const late = await client.call(
      ListKnowledgeReceipts,
      { orgId: org, since },
      { timeoutMs: 5000 },
    );
    expect(late.receipts.map((r) => r.id)).toEqual(all.slice(-2).map((r) => r.id));
    const none = await client.call(
      ListKnowledgeReceipts,
      { orgId: org, source: 'NOTION' },
      { timeoutMs: 5000 },
    );
    expect(none.receipts).toEqual([]);
    const theirs = await client.call(ListKnowledgeReceipts, { orgId: other }, { timeoutMs: 5000 });
    expect(theirs.receipts.every((r) => r.sourceId === 'a.md')).toBe(true);
  });
});
