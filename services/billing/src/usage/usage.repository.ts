import {
  type RunUsage,
  type UsageGroup,
  type UsageRow,
  rethrowUnavailable,
} from '@heady/contracts';
import { type Database, type Kysely, sql } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type ModelPrice, type TaskTokens } from './cost.js';

/** A finished run as usage needs it. */
export interface FinishedRun {
  runId: string;
  orgId: string;
  action: string;
  status: string;
  finishedAt: Date;
}

const pg = (e: unknown): never => rethrowUnavailable(e, 'postgres');

/** `usage_records`, `model_prices`, and the runs and tasks usage is read from. */
@Injectable()
export class UsageRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** The run, if it has ended and belongs to an organization. */
  async finishedRun(runId: string): Promise<FinishedRun | undefined> {
    const r = await this.db
      .selectFrom('pipeline_runs')
      .select(['id', 'org_id', 'action', 'status', 'finished_at', 'updated_at'])
      .where('id', '=', runId)
      .executeTakeFirst()
      .catch(pg);
    if (!r?.org_id || r.status === 'PENDING' || r.status === 'RUNNING') return undefined;
    return {
      runId: r.id,
      orgId: r.org_id,
      action: r.action,
      status: r.status,
      finishedAt: r.finished_at ?? r.updated_at,
    };
  }

  /** Every task of the run that reached a provider, with the tokens it reported. */
  async tasksOf(runId: string): Promise<TaskTokens[]> {
    const rows = await this.db
      .selectFrom('task_runs')
      .select(['provider', 'model', 'prompt_tokens', 'completion_tokens'])
      .where('run_id', '=', runId)
      .where('provider', 'is not', null)
      .execute()
      .catch(pg);
    return rows.map((r) => ({
      provider: r.provider ?? '',
      model: r.model ?? '',
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
    }));
  }

  /** The price table. */
  async prices(): Promise<ModelPrice[]> {
    const rows = await this.db.selectFrom('model_prices').selectAll().execute().catch(pg);
    return rows.map((r) => ({
      provider: r.provider,
      model: r.model,
      inputUsdPerMtok: Number(r.input_usd_per_mtok),
      outputUsdPerMtok: Number(r.output_usd_per_mtok),
    }));
  }

  /**
   * Records `u` unless its run is recorded already; answers the usage stored for the run
   * and whether `billing.usage` still has to be published for it.
   */
  async record(u: RunUsage): Promise<{ inserted: boolean; published: boolean }> {
    const inserted = await this.db
      .insertInto('usage_records')
      .values({
        run_id: u.runId,
        org_id: u.orgId,
        action: u.action,
        status: u.status,
        finished_at: new Date(u.finishedAt),
        tokens_in: u.tokensIn,
        tokens_out: u.tokensOut,
        tasks: u.tasks,
        cost_micros: u.costMicros,
        by_model: JSON.stringify(u.byModel) as unknown as unknown[],
      })
      .onConflict((oc) => oc.column('run_id').doNothing())
      .returning('run_id')
      .executeTakeFirst()
      .catch(pg);
    if (inserted) return { inserted: true, published: false };
    const r = await this.db
      .selectFrom('usage_records')
      .select('published_at')
      .where('run_id', '=', u.runId)
      .executeTakeFirst()
      .catch(pg);
    return { inserted: false, published: !!r?.published_at };
  }

  /** The usage recorded for a run (what was first recorded, whatever the prices now). */
  async recorded(runId: string): Promise<RunUsage | undefined> {
    const r = await this.db
      .selectFrom('usage_records')
      .selectAll()
      .where('run_id', '=', runId)
      .executeTakeFirst()
      .catch(pg);
    return (
      r && {
        runId: r.run_id,
        orgId: r.org_id,
        action: r.action,
        status: r.status,
        finishedAt: r.finished_at.toISOString(),
        tokensIn: Number(r.tokens_in),
        tokensOut: Number(r.tokens_out),
        tasks: r.tasks,
        costMicros: Number(r.cost_micros),
        byModel: r.by_model as RunUsage['byModel'],
      }
    );
  }

  async markPublished(runId: string): Promise<void> {
    await this.db
      .updateTable('usage_records')
      .set({ published_at: sql<Date>`now()` })
      .where('run_id', '=', runId)
      .execute()
      .catch(pg);
  }

  /** The organization's runs that finished in [from, to), grouped. */
  async grouped(orgId: string, from: Date, to: Date, groupBy: UsageGroup): Promise<UsageRow[]> {
    const q =
      groupBy === 'model'
        ? sql<RawRow>`
            SELECT (m->>'provider') || '/' || (m->>'model') AS key,
                   count(DISTINCT u.run_id)::int AS runs,
                   sum((m->>'tasks')::int)::bigint AS tasks,
                   sum((m->>'tokensIn')::bigint)::bigint AS tokens_in,
                   sum((m->>'tokensOut')::bigint)::bigint AS tokens_out,
                   sum((m->>'costMicros')::bigint)::bigint AS cost_micros
            FROM usage_records u, jsonb_array_elements(u.by_model) m
            WHERE u.org_id = ${orgId} AND u.finished_at >= ${from} AND u.finished_at < ${to}
            GROUP BY 1 ORDER BY 1`
        : sql<RawRow>`
            SELECT ${groupBy === 'day' ? sql`to_char(u.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')` : sql`u.action`} AS key,
                   count(*)::int AS runs,
                   sum(u.tasks)::bigint AS tasks,
                   sum(u.tokens_in)::bigint AS tokens_in,
                   sum(u.tokens_out)::bigint AS tokens_out,
                   sum(u.cost_micros)::bigint AS cost_micros
            FROM usage_records u
            WHERE u.org_id = ${orgId} AND u.finished_at >= ${from} AND u.finished_at < ${to}
            GROUP BY 1 ORDER BY 1`;
    const { rows } = await q.execute(this.db).catch(pg);
    return rows.map((r) => ({
      key: r.key,
      runs: Number(r.runs),
      tasks: Number(r.tasks),
      tokensIn: Number(r.tokens_in),
      tokensOut: Number(r.tokens_out),
      costUsd: Number(r.cost_micros) / 1e6,
    }));
  }
}

interface RawRow {
  key: string;
  runs: number;
  tasks: string;
  tokens_in: string;
  tokens_out: string;
  cost_micros: string;
}

/** A recorded run whose tokens are still to be reported to Stripe. */
export interface Unmetered {
  runId: string;
  customerId: string;
  tokens: number;
  finishedAt: Date;
}

/** The reads and writes of meter reporting (`usage_records.metered_at`). */
@Injectable()
export class MeterRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Runs of organizations on `plans` with a live Stripe customer, not yet metered, oldest first. */
  async unmetered(plans: string[], limit: number): Promise<Unmetered[]> {
    if (!plans.length) return [];
    const rows = await this.db
      .selectFrom('usage_records as u')
      .innerJoin('organizations as o', 'o.id', 'u.org_id')
      .innerJoin('billing_customers as c', 'c.org_id', 'u.org_id')
      .select(['u.run_id', 'c.stripe_customer_id', 'u.tokens_in', 'u.tokens_out', 'u.finished_at'])
      .where('u.metered_at', 'is', null)
      .where('c.deleted_at', 'is', null)
      .where('o.plan', 'in', plans as ('FREE' | 'PRO' | 'ENTERPRISE')[])
      .orderBy('u.finished_at')
      .limit(limit)
      .execute()
      .catch(pg);
    return rows.map((r) => ({
      runId: r.run_id,
      customerId: r.stripe_customer_id,
      tokens: Number(r.tokens_in) + Number(r.tokens_out),
      finishedAt: r.finished_at,
    }));
  }

  async markMetered(runIds: string[]): Promise<void> {
    if (!runIds.length) return;
    await this.db
      .updateTable('usage_records')
      .set({ metered_at: sql<Date>`now()` })
      .where('run_id', 'in', runIds)
      .execute()
      .catch(pg);
  }
}
