import { type Kysely, sql } from 'kysely';

// Usage metering: what each finished run used (tokens per provider and model, tasks, cost),
// recorded once per run, and the price table the cost is computed from, kept as data
// (`heady billing prices`). Prices are US dollars per million tokens, so a cost in
// micro-dollars is tokens × price.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE model_prices (
      -- '*' matches any provider or model: (provider, model), then (provider, '*'), then ('*', '*')
      provider TEXT NOT NULL,
      model TEXT NOT NULL,
      input_usd_per_mtok NUMERIC(14, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
      output_usd_per_mtok NUMERIC(14, 6) NOT NULL CHECK (output_usd_per_mtok >= 0),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (provider, model)
    );
    INSERT INTO model_prices (provider, model, input_usd_per_mtok, output_usd_per_mtok) VALUES
      ('*', '*', 1, 2),
      ('local', '*', 0, 0),
      ('openai', 'gpt-4o-mini', 0.15, 0.6),
      ('openai', 'gpt-4o', 2.5, 10),
      ('anthropic', 'claude-sonnet-4-5', 3, 15),
      ('anthropic', 'claude-haiku-4-5', 1, 5);
    CREATE TABLE usage_records (
      -- one row per run: a redelivered run event never records it twice
      run_id UUID PRIMARY KEY,
      org_id UUID NOT NULL,
      action TEXT NOT NULL,
      status TEXT NOT NULL,
      finished_at TIMESTAMPTZ NOT NULL,
      tokens_in BIGINT NOT NULL,
      tokens_out BIGINT NOT NULL,
      tasks INT NOT NULL,
      cost_micros BIGINT NOT NULL,
      -- [{provider, model, tokensIn, tokensOut, tasks, costMicros}]
      by_model JSONB NOT NULL,
      -- when billing.usage was published for it (null: not yet)
      published_at TIMESTAMPTZ,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX usage_records_org_time ON usage_records (org_id, finished_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE usage_records; DROP TABLE model_prices`.execute(db);
}
