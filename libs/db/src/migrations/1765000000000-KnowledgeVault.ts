import { type Kysely, sql } from 'kysely';

// The knowledge vault (DESIGN-REFERENCE "Knowledge vault"): documents, their passages'
// embeddings and the receipts of everything done to them, each row scoped by `org_id`.
// Passages live in `embeddings` (the reference's table, with the passage text beside its
// vector); BM25 reads its postings and statistics from `knowledge_terms`,
// `knowledge_term_stats` and `knowledge_corpus_stats`, kept in step in the same transaction
// that writes or removes the passages, so every replica scores from the same numbers.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE documents (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      source TEXT NOT NULL CHECK (source IN ('UPLOAD', 'NOTION', 'REPO', 'PIPELINE', 'REGISTRY')),
      source_id TEXT NOT NULL,
      title TEXT,
      content TEXT NOT NULL,
      content_hash TEXT NOT NULL,
      metadata JSONB NOT NULL DEFAULT '{}',
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      UNIQUE (org_id, source, source_id)
    );
    CREATE TABLE embeddings (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      document_id UUID NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
      -- the ANN index's key; within an organization writes are serialised, so labels grow in
      -- commit order and a replica catches up with "label > the largest it has"
      label BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
      ordinal INT NOT NULL,
      text TEXT NOT NULL,
      -- the passage's length in lexemes (BM25's |D|)
      length INT NOT NULL DEFAULT 0,
      provider TEXT NOT NULL CHECK (provider IN ('LOCAL', 'CLOUD')),
      model TEXT NOT NULL,
      dims INT NOT NULL,
      vector JSONB NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      UNIQUE (document_id, ordinal)
    );
    CREATE INDEX embeddings_org_label ON embeddings (org_id, label);
    CREATE TABLE knowledge_terms (
      org_id UUID NOT NULL,
      term TEXT NOT NULL,
      label BIGINT NOT NULL REFERENCES embeddings (label) ON DELETE CASCADE,
      tf INT NOT NULL,
      length INT NOT NULL,
      -- tf and length ride in the index, so BM25 reads postings by index-only scans
      PRIMARY KEY (org_id, term, label) INCLUDE (tf, length)
    );
    CREATE INDEX knowledge_terms_label ON knowledge_terms (label);
    CREATE TABLE knowledge_term_stats (
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      term TEXT NOT NULL,
      df BIGINT NOT NULL CHECK (df >= 0),
      PRIMARY KEY (org_id, term)
    );
    CREATE TABLE knowledge_corpus_stats (
      org_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
      passages BIGINT NOT NULL DEFAULT 0 CHECK (passages >= 0),
      total_length BIGINT NOT NULL DEFAULT 0 CHECK (total_length >= 0)
    );
    CREATE TABLE memory_receipts (
      id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      operation TEXT NOT NULL CHECK (operation IN ('INGEST', 'EMBED', 'STORE', 'DROP')),
      source TEXT NOT NULL,
      source_id TEXT,
      -- no foreign key: a receipt outlives the document it speaks of
      document_id UUID,
      stored BOOLEAN NOT NULL,
      reason TEXT,
      details JSONB NOT NULL DEFAULT '{}',
      -- clock_timestamp: receipts written in one transaction keep their order
      created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX memory_receipts_org_time ON memory_receipts (org_id, created_at, id);
    CREATE INDEX memory_receipts_org_document ON memory_receipts (org_id, document_id, created_at);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE memory_receipts;
    DROP TABLE knowledge_corpus_stats;
    DROP TABLE knowledge_term_stats;
    DROP TABLE knowledge_terms;
    DROP TABLE embeddings;
    DROP TABLE documents;
  `.execute(db);
}
