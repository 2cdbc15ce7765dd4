import { create } from '@bufbuild/protobuf';
import { BusPublisher, closeBus, connectBus, type BusConnection } from '@heady/bus';
import { KnowledgeSettings, RunEventSchema, RunStatus, runEventSubject } from '@heady/contracts';
import { createDb, type Database, type Kysely, type PipelineRun, sql } from '@heady/db';
import {
  acceptRun,
  createTestDatabase,
  eventually,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@heady/testing';
import { type INestMicroservice } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultInProcess } from '../src/in-process.js';
import { PipelineResultsService, runText } from '../src/pipeline/pipeline-results.service.js';
import { SearchService } from '../src/search/search.service.js';

// The PIPELINE source: the vault's `knowledge-pipeline` durable on RUN_EVENTS stores the
// results of succeeded runs of organizations that opted in, and nothing of the others.
describe(PipelineResultsService.name, () => {
  let nats: TestNatsServer;
  let pg: TestDatabase;
  let app: INestMicroservice;
  let db: Kysely<Database>;
  let bus: BusConnection;
  let client: BusPublisher;

  beforeAll(async () => {
    nats = await startNatsServer();
    pg = await createTestDatabase('heady_vault_pipeline');
    const started = await startVaultInProcess({
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      HEADY_VAULT_DIMENSIONS: '64',
    });
    app = started.app;
    db = createDb({ url: pg.url, poolMax: 2 });
    // a client publishing run events as the pipeline would (signing is off in this test)
    bus = await connectBus({ ...started.config, instanceId: 'pipeline-test-client' });
    client = new BusPublisher(bus);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await closeBus(bus).catch(() => undefined);
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  async function succeededRun(
    answer: string,
    more: Partial<PipelineRun> = {},
  ): Promise<PipelineRun> {
    const run = await acceptRun(db, { input: { prompt: `question about ${answer}` }, ...more });
    await db
      .updateTable('pipeline_runs')
      .set({ status: 'SUCCEEDED', result: { output: answer }, finished_at: new Date() })
      .where('id', '=', run.id)
      .execute();
    return run;
  }

  const announce = (runId: string, msgId = `${runId}:run.succeeded`) =>
    client.publish(
      runEventSubject(runId, 'run.succeeded'),
      {
        schema: RunEventSchema,
        message: create(RunEventSchema, {
          runId,
          event: 'run.succeeded',
          status: RunStatus.SUCCEEDED,
        }),
      },
      { msgId },
    );

  const passagesOf = async (runId: string): Promise<string[]> =>
    (
      await db
        .selectFrom('embeddings as e')
        .innerJoin('documents as d', 'd.id', 'e.document_id')
        .select(sql<string>`e.label::text`.as('label'))
        .where('d.source', '=', 'PIPELINE')
        .where('d.source_id', '=', runId)
        .execute()
    ).map((r) => r.label);

  it('stores the succeeded runs of an organization that opted in, and no one else', async () => {
    const mine = await succeededRun('the zirconium alloy melts at 1855 degrees');
    const secret = await succeededRun('restricted zirconium notes');
    const theirs = await succeededRun('their zirconium answer');
    const orgId = mine.org_id as string;
    // the secret run belongs to the same organization as mine
    await db
      .updateTable('pipeline_runs')
      .set({ org_id: orgId, classification: 'RESTRICTED' })
      .where('id', '=', secret.id)
      .execute();
    expect(await client.call(KnowledgeSettings, { orgId }, { timeoutMs: 5000 })).toEqual({
      pipelineResults: false,
    });
    // announced before the opt-in: skipped
    await announce(mine.id, `${mine.id}:early`);
    await new Promise((r) => setTimeout(r, 500));
    expect(await passagesOf(mine.id)).toEqual([]);

    expect(
      await client.call(KnowledgeSettings, { orgId, pipelineResults: true }, { timeoutMs: 5000 }),
    ).toEqual({ pipelineResults: true });
    for (const r of [mine, secret, theirs]) await announce(r.id);
    await eventually(async () => (await passagesOf(mine.id)).length > 0);
    const doc = await db
      .selectFrom('documents')
      .selectAll()
      .where('source', '=', 'PIPELINE')
      .execute();
    expect(doc.map((d) => [d.source_id, d.org_id, d.title])).toEqual([
      [mine.id, orgId, 'complete'],
    ]);
    expect(doc[0]?.content).toBe(
      runText({
        input: { prompt: `question about the zirconium alloy melts at 1855 degrees` },
        result: { output: 'the zirconium alloy melts at 1855 degrees' },
      }),
    );
    expect(doc[0]?.metadata).toMatchObject({ runId: mine.id, action: 'complete' });

    const found = await app
      .get(SearchService)
      .search({ orgId, q: 'zirconium melting', k: 5, mode: 'hybrid', source: 'PIPELINE' });
    expect([...new Set(found.results.map((r) => r.sourceId))]).toEqual([mine.id]);

    // a redelivered announcement stores nothing new
    const before = await passagesOf(mine.id);
    await announce(mine.id, `${mine.id}:again`);
    await eventually(async () => {
      const r = await db
        .selectFrom('memory_receipts')
        .select('reason')
        .where('source_id', '=', mine.id)
        .where('reason', '=', 'duplicate')
        .executeTakeFirst();
      return r !== undefined;
    });
    expect(await passagesOf(mine.id)).toEqual(before);
    expect(await passagesOf(secret.id)).toEqual([]);
    expect(await passagesOf(theirs.id)).toEqual([]);
  });
});
