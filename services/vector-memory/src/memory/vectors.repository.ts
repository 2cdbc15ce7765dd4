import {
  ARRAY,
  type DuckDBArrayValue,
  type DuckDBConnection,
  DuckDBInstance,
  FLOAT,
  LIST,
  VARCHAR,
  arrayValue,
  listValue,
} from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One row of `conversation_vectors` (DESIGN-REFERENCE "Vector memory"), plus its organization and ANN key. */
export interface VectorRow {
  id: string;
  orgId: string;
  /** The key of the row in the HNSW index (monotonic per database). */
  label: bigint;
  ts: number;
  role: string;
  content: string;
  embedding: Float32Array;
  tokenCount: number;
  sessionId: string | null;
  metadata: Record<string, unknown> | null;
}

export type NewVector = Omit<VectorRow, 'label'>;

/** A hit of an exact search. */
export interface ScoredRow {
  id: string;
  label: bigint;
  score: number;
}

/** Thrown when the database was created with another embedding dimension. */
export class DimensionMismatchError extends Error {
  override readonly name = 'DimensionMismatchError';
}

/**
 * `conversation_vectors` in one DuckDB file per instance. Embeddings are `FLOAT[N]`, so
 * DuckDB's `array_cosine_similarity` gives the exact nearest neighbours the HNSW index
 * is checked against. Every write is its own committed transaction (DuckDB's WAL), so
 * an insert acknowledged to the caller survives a crash. The only file of vector memory
 * that reaches DuckDB (`duckdb-owner.spec.ts`): the HNSW index and the service ask this
 * repository.
 */
export class VectorsRepository {
  private nextLabel = 1n;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    readonly dimensions: number,
    readonly path: string,
  ) {}

  static async open(path: string, dimensions: number): Promise<VectorsRepository> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run(
      `CREATE TABLE IF NOT EXISTS memory_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
    );
    const meta = await conn.runAndReadAll(`SELECT value FROM memory_meta WHERE key = 'dimensions'`);
    const stored = meta.getRowObjectsJS()[0]?.value as string | undefined;
    if (stored !== undefined && Number(stored) !== dimensions) {
      conn.closeSync();
      throw new DimensionMismatchError(
        `${path} holds ${stored}-dimensional embeddings; this deployment is configured for ${dimensions} (HEADY_MEMORY_DIMENSIONS). Use another database file or re-embed.`,
      );
    }
    await conn.run(`
      CREATE TABLE IF NOT EXISTS conversation_vectors (
        id VARCHAR PRIMARY KEY,
        org_id VARCHAR NOT NULL,
        label BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        role VARCHAR NOT NULL DEFAULT 'user',
        content TEXT NOT NULL,
        embedding FLOAT[${dimensions}] NOT NULL,
        token_count INTEGER DEFAULT 0,
        session_id VARCHAR,
        metadata JSON
      )`);
    await conn.run(
      `CREATE INDEX IF NOT EXISTS conversation_vectors_ts ON conversation_vectors (ts)`,
    );
    // search results are read back by label (the HNSW key)
    await conn.run(
      `CREATE UNIQUE INDEX IF NOT EXISTS conversation_vectors_label ON conversation_vectors (label)`,
    );
    await conn.run(
      `INSERT OR IGNORE INTO memory_meta VALUES ('dimensions', '${String(dimensions)}')`,
    );
    const store = new VectorsRepository(instance, conn, dimensions, path);
    const max = await conn.runAndReadAll(
      `SELECT coalesce(max(label), 0) AS m FROM conversation_vectors`,
    );
    store.nextLabel = BigInt(max.getRowObjectsJS()[0]?.m as bigint | number) + 1n;
    return store;
  }

  /** Runs `fn` after every earlier operation: one connection, one statement at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private vec(e: Float32Array): DuckDBArrayValue {
    return arrayValue(Array.from(e));
  }

  /** Inserts rows in one transaction; resolves once committed, with their labels. */
  insert(rows: NewVector[]): Promise<bigint[]> {
    return this.serial(async () => {
      const labels = rows.map(() => this.nextLabel++);
      const type = ARRAY(FLOAT, this.dimensions);
      await this.conn.run('BEGIN TRANSACTION');
      try {
        const appender = await this.conn.createAppender('conversation_vectors');
        rows.forEach((r, i) => {
          appender.appendVarchar(r.id);
          appender.appendVarchar(r.orgId);
          appender.appendBigInt(labels[i] as bigint);
          appender.appendBigInt(BigInt(r.ts));
          appender.appendVarchar(r.role);
          appender.appendVarchar(r.content);
          appender.appendArray(this.vec(r.embedding), type);
          appender.appendInteger(r.tokenCount);
          if (r.sessionId === null) appender.appendNull();
          else appender.appendVarchar(r.sessionId);
          if (r.metadata === null) appender.appendNull();
          else appender.appendVarchar(JSON.stringify(r.metadata));
          appender.endRow();
        });
        appender.closeSync();
        await this.conn.run('COMMIT');
      } catch (e) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
      return labels;
    });
  }

  /** Deletes an organization's session; resolves with the labels removed. */
  deleteSession(orgId: string, sessionId: string): Promise<bigint[]> {
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `DELETE FROM conversation_vectors WHERE org_id = $org AND session_id = $session RETURNING label`,
        { org: orgId, session: sessionId },
      );
      return r.getRowObjectsJS().map((x) => BigInt(x.label as bigint));
    });
  }

  /** Exact cosine top-k of an organization (optionally one session), by DuckDB. */
  exactSearch(
    orgId: string,
    query: Float32Array,
    k: number,
    sessionId?: string,
  ): Promise<ScoredRow[]> {
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT id, label, array_cosine_similarity(embedding, $q) AS score
           FROM conversation_vectors
          WHERE org_id = $org ${sessionId === undefined ? '' : 'AND session_id = $session'}
          ORDER BY score DESC, label
          LIMIT $k`,
        {
          q: this.vec(query),
          org: orgId,
          k,
          ...(sessionId === undefined ? {} : { session: sessionId }),
        },
        { q: ARRAY(FLOAT, this.dimensions) },
      );
      return r.getRowObjectsJS().map((x) => ({
        id: x.id as string,
        label: BigInt(x.label as bigint),
        score: Number(x.score),
      }));
    });
  }

  /** Rows by label (content and metadata for search results). */
  byLabels(orgId: string, labels: bigint[]): Promise<Map<bigint, Omit<VectorRow, 'embedding'>>> {
    if (!labels.length) return Promise.resolve(new Map<bigint, Omit<VectorRow, 'embedding'>>());
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT id, org_id, label, ts, role, content, token_count, session_id, metadata
           FROM conversation_vectors WHERE label IN (${labels.map(String).join(',')})`,
      );
      // the organization is checked on the rows, so the filter stays one the label index serves
      return new Map(
        r
          .getRowObjectsJS()
          .filter((x) => x.org_id === orgId)
          .map((x) => [
            BigInt(x.label as bigint),
            {
              id: x.id as string,
              orgId: x.org_id as string,
              label: BigInt(x.label as bigint),
              ts: Number(x.ts),
              role: x.role as string,
              content: x.content as string,
              tokenCount: Number(x.token_count ?? 0),
              sessionId: (x.session_id as string | null) ?? null,
              metadata:
                typeof x.metadata === 'string'
                  ? (JSON.parse(x.metadata) as Record<string, unknown>)
                  : null,
            },
          ]),
      );
    });
  }

  /** Every (label, session, embedding) of an organization, in label order, a page at a time (index rebuilds, PCA). */
  async *scan(
    orgId: string,
    opts: { pageSize?: number; sample?: number } = {},
  ): AsyncGenerator<{ label: bigint; sessionId: string | null; embedding: Float32Array }[]> {
    const pageSize = opts.pageSize ?? 5000;
    let after = 0n;
    for (;;) {
      const page = await this.serial(async () => {
        const r = await this.conn.runAndReadAll(
          `SELECT label, session_id, embedding FROM conversation_vectors
            WHERE org_id = $org AND label > $after
            ${opts.sample ? `AND hash(label) % ${Math.max(1, Math.floor(opts.sample))} = 0` : ''}
            ORDER BY label LIMIT ${pageSize}`,
          { org: orgId, after },
        );
        return r.getRows().map((row) => ({
          label: BigInt(row[0] as bigint),
          sessionId: (row[1] as string | null) ?? null,
          embedding: Float32Array.from((row[2] as DuckDBArrayValue).items as number[]),
        }));
      });
      if (!page.length) return;
      yield page;
      after = (page[page.length - 1] as { label: bigint }).label;
      if (page.length < pageSize) return;
    }
  }

  /** Per organization: rows, the largest label, sessions, time range. */
  summary(orgId: string): Promise<{
    count: number;
    maxLabel: bigint;
    sessions: number;
    oldest: number | null;
    newest: number | null;
  }> {
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT count(*) AS n, coalesce(max(label), 0) AS m, count(DISTINCT session_id) AS s,
                min(ts) AS lo, max(ts) AS hi
           FROM conversation_vectors WHERE org_id = $org`,
        { org: orgId },
      );
      const x = r.getRowObjectsJS()[0] ?? {};
      return {
        count: Number(x.n ?? 0),
        maxLabel: BigInt((x.m as bigint | undefined) ?? 0n),
        sessions: Number(x.s ?? 0),
        oldest: x.lo === null || x.lo === undefined ? null : Number(x.lo),
        newest: x.hi === null || x.hi === undefined ? null : Number(x.hi),
      };
    });
  }

  /** Rows of a session in an organization. */
  sessionCount(orgId: string, sessionId: string): Promise<number> {
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT count(*) AS n FROM conversation_vectors WHERE org_id = $org AND session_id = $s`,
        { org: orgId, s: sessionId },
      );
      return Number(r.getRowObjectsJS()[0]?.n ?? 0);
    });
  }

  /** Which of `ids` are stored. */
  existing(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return Promise.resolve(new Set());
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT id FROM conversation_vectors WHERE list_contains($ids, id)`,
        { ids: listValue(ids) },
        { ids: LIST(VARCHAR) },
      );
      return new Set(r.getRowObjectsJS().map((x) => x.id as string));
    });
  }

  /** The organizations with memory. */
  organizations(): Promise<string[]> {
    return this.serial(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT DISTINCT org_id FROM conversation_vectors ORDER BY org_id`,
      );
      return r.getRowObjectsJS().map((x) => x.org_id as string);
    });
  }

  async close(): Promise<void> {
    await this.queue;
    await this.conn.run('CHECKPOINT').catch(() => undefined);
    this.conn.closeSync();
    this.instance.closeSync?.();
  }
}
