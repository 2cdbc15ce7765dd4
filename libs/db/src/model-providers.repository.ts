import { type Kysely, sql } from 'kysely';
import { type Database } from './schema.js';

/** A model provider as the workers run it (`HEADY_PROVIDERS`' shape). */
export interface ModelProviderSpec {
  name: string;
  kind: 'local' | 'openai-compatible' | 'anthropic';
  baseUrl?: string;
  model?: string;
  apiKeyEnv?: string;
  concurrency: number;
  /** Requests per minute all workers together may send it (its API key's limit). */
  rpm?: number;
  groups?: string[];
}

/** A row of `model_providers`, as `heady providers ls` shows it. */
export interface ModelProviderRow extends ModelProviderSpec {
  position: number;
  enabled: boolean;
  updatedAt: Date;
}

/**
 * `model_providers`: the providers the workers run tasks on, in order, changeable at run
 * time. Seeded once from `HEADY_PROVIDERS`; from then on the table is what counts.
 */
export class ModelProvidersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every provider, enabled or not, in order of preference. */
  async all(): Promise<ModelProviderRow[]> {
    const rows = await this.db
      .selectFrom('model_providers')
      .selectAll()
      .orderBy('position')
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      name: r.name,
      kind: r.kind,
      ...(r.base_url ? { baseUrl: r.base_url } : {}),
      ...(r.model ? { model: r.model } : {}),
      ...(r.api_key_env ? { apiKeyEnv: r.api_key_env } : {}),
      concurrency: r.concurrency,
      ...(r.rpm ? { rpm: r.rpm } : {}),
      ...(r.groups ? { groups: r.groups } : {}),
      position: r.position,
      enabled: r.enabled,
      updatedAt: r.updated_at,
    }));
  }

  /** The enabled providers, in order: what the workers build their chains from. */
  async enabled(): Promise<ModelProviderSpec[]> {
    return (await this.all())
      .filter((r) => r.enabled)
      .map(({ position: _p, enabled: _e, updatedAt: _u, ...spec }) => spec);
  }

  /** Changes when any provider is added, changed or removed (cheap to poll). */
  async version(): Promise<string> {
    const r = await this.db
      .selectFrom('model_providers')
      .select([
        sql<string>`count(*)::text`.as('n'),
        sql<string>`coalesce(max(updated_at), 'epoch')::text`.as('at'),
      ])
      .executeTakeFirstOrThrow();
    return `${r.n}@${r.at}`;
  }

  /** Writes `specs` in order when the table is empty (a first start); true when it did. */
  async seed(specs: readonly ModelProviderSpec[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // one seeder at a time: workers processes start together
      await sql`LOCK TABLE model_providers IN EXCLUSIVE MODE`.execute(tx);
      const any = await tx.selectFrom('model_providers').select('name').limit(1).executeTakeFirst();
      if (any) return false;
      if (specs.length)
        await tx
          .insertInto('model_providers')
          .values(specs.map((s, i) => ({ ...columns(s), position: (i + 1) * 10 })))
          .execute();
      return true;
    });
  }

  /**
   * Adds or changes a provider. A new one goes last unless `position` says where; a changed
   * one keeps its place and its other settings unless given.
   */
  async set(
    spec: Partial<ModelProviderSpec> & Pick<ModelProviderSpec, 'name'>,
    opts: { position?: number; enabled?: boolean } = {},
  ): Promise<ModelProviderRow> {
    await this.db.transaction().execute(async (tx) => {
      const have = await tx
        .selectFrom('model_providers')
        .selectAll()
        .where('name', '=', spec.name)
        .forUpdate()
        .executeTakeFirst();
      if (!have) {
        if (!spec.kind) throw new Error(`provider ${spec.name} is new: give its kind`);
        const last = await tx
          .selectFrom('model_providers')
          .select(sql<number>`coalesce(max(position), 0)`.as('p'))
          .executeTakeFirstOrThrow();
        await tx
          .insertInto('model_providers')
          .values({
            ...columns({ concurrency: 8, ...spec, kind: spec.kind }),
            position: opts.position ?? Number(last.p) + 10,
            ...(opts.enabled === undefined ? {} : { enabled: opts.enabled }),
          })
          .execute();
        return;
      }
      await tx
        .updateTable('model_providers')
        .set({
          ...(spec.kind ? { kind: spec.kind } : {}),
          ...(spec.baseUrl !== undefined ? { base_url: spec.baseUrl || null } : {}),
          ...(spec.model !== undefined ? { model: spec.model || null } : {}),
          ...(spec.apiKeyEnv !== undefined ? { api_key_env: spec.apiKeyEnv || null } : {}),
          ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
          // 0 clears the budget
          ...(spec.rpm !== undefined ? { rpm: spec.rpm || null } : {}),
          ...(spec.groups !== undefined ? { groups: spec.groups.length ? spec.groups : null } : {}),
          ...(opts.position !== undefined ? { position: opts.position } : {}),
          ...(opts.enabled !== undefined ? { enabled: opts.enabled } : {}),
          updated_at: new Date(),
        })
        .where('name', '=', spec.name)
        .execute();
    });
    const row = (await this.all()).find((r) => r.name === spec.name);
    if (!row) throw new Error(`provider ${spec.name} vanished`);
    return row;
  }

  /** Removes a provider; false when there was none of that name. */
  async remove(name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('model_providers')
      .where('name', '=', name)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}

function columns(s: ModelProviderSpec) {
  return {
    name: s.name,
    kind: s.kind,
    base_url: s.baseUrl ?? null,
    model: s.model ?? null,
    api_key_env: s.apiKeyEnv ?? null,
    concurrency: s.concurrency,
    rpm: s.rpm || null,
    groups: s.groups?.length ? s.groups : null,
  };
}
