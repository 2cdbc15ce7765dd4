import { type BusPublisher } from '@heady/bus';
import { MAX_QUERY_CHARS, SearchKnowledge, SearchMemory } from '@heady/contracts';
import { type PipelineConfig } from '@heady/config';

/** The stores context is retrieved from. */
export type ContextKind = 'memory' | 'knowledge';

/** A passage retrieved for a run, attributed: what the model is handed and the result lists. */
export interface RetrievedPassage {
  /** Where it came from: `memory` (vector memory) or `knowledge` (the knowledge vault). */
  kind: ContextKind;
  /** The id of the item in its store (a memory vector id, a vault document id). */
  id: string;
  /**
   * How it is quoted in attributions: `memory:<session>` or `memory`; a vault passage by its
   * document's title, else `<source>:<sourceId>`.
   */
  source: string;
  text: string;
  /** Cosine similarity to the question (memory), or the vault's hybrid score. */
  score: number;
}

/** What one store answered: how many passages it gave, or why it gave none. */
export interface ContextSource {
  kind: ContextKind;
  ok: boolean;
  passages: number;
  /** Why nothing came back (the store was unreachable, timed out...). */
  error?: string;
  /** Whether the store's answer was exact (vector memory's brute-force path) or approximate. */
  exact?: boolean;
}

/** What a question retrieved, from every store asked. */
export interface RetrievedContext {
  passages: RetrievedPassage[];
  sources: ContextSource[];
}

/** What ingest asks for a run's question. */
export interface ContextQuery {
  orgId: string;
  question: string;
  /** Search within this session's memory only. */
  sessionId?: string;
}

/** Retrieval of the context a run's question is answered from (given to stages as `context`). */
export interface ContextRetrieval {
  /**
   * The passages most similar to the question, best first, from the organization's stores,
   * at most HEADY_CONTEXT_TOP_K of them and none below HEADY_CONTEXT_MIN_SCORE. A store that
   * does not answer within HEADY_CONTEXT_TIMEOUT_MS is reported in `sources` and left out:
   * context enriches a run, it never holds one up.
   */
  retrieve(q: ContextQuery): Promise<RetrievedContext>;
}

/**
 * Context over signed request/reply, scoped to the run's organization and asked of both stores
 * at once: `memory.search` (vector memory; passages at or above the minimum similarity) and
 * `knowledge.search` (the knowledge vault's hybrid search; passages that share at least one
 * term with the question, so an unrelated vault adds nothing). Each store gives at most
 * HEADY_CONTEXT_TOP_K; the vault's passages come first (documents the organization chose to
 * keep), then memory's.
 */
export class BusContextRetrieval implements ContextRetrieval {
  constructor(
    private readonly bus: BusPublisher,
    private readonly config: PipelineConfig['context'],
  ) {}

  async retrieve(q: ContextQuery): Promise<RetrievedContext> {
    if (this.config.topK === 0) return { passages: [], sources: [] };
    const [knowledge, memory] = await Promise.all([this.knowledge(q), this.memory(q)]);
    return {
      passages: [...knowledge.passages, ...memory.passages],
      sources: [knowledge.source, memory.source],
    };
  }

  private async memory(
    q: ContextQuery,
  ): Promise<{ passages: RetrievedPassage[]; source: ContextSource }> {
    try {
      const reply = await this.bus.call(
        SearchMemory,
        {
          orgId: q.orgId,
          query: q.question.slice(0, 32_768),
          topK: this.config.topK,
          ...(q.sessionId ? { sessionId: q.sessionId } : {}),
        },
        { timeoutMs: this.config.timeoutMs },
      );
      const passages = reply.results
        .filter((h) => h.score >= this.config.minScore)
        .map((h): RetrievedPassage => ({
          kind: 'memory',
          id: h.id,
          source: h.sessionId ? `memory:${h.sessionId}` : 'memory',
          text: h.content,
          score: round(h.score),
        }));
      return {
        passages,
        source: { kind: 'memory', ok: true, passages: passages.length, exact: reply.exact },
      };
    } catch (e) {
      return { passages: [], source: failed('memory', e) };
    }
  }

  private async knowledge(
    q: ContextQuery,
  ): Promise<{ passages: RetrievedPassage[]; source: ContextSource }> {
    try {
      const reply = await this.bus.call(
        SearchKnowledge,
        {
          orgId: q.orgId,
          q: q.question.slice(0, MAX_QUERY_CHARS),
          k: this.config.topK,
          mode: 'hybrid',
        },
        { timeoutMs: this.config.timeoutMs },
      );
      const passages = reply.results
        .filter((h) => h.lexicalRank !== null && h.lexicalRank !== undefined)
        .map((h): RetrievedPassage => ({
          kind: 'knowledge',
          id: h.documentId,
          source: h.title ?? `${h.source}:${h.sourceId}`,
          text: h.text,
          score: round(h.score),
        }));
      return { passages, source: { kind: 'knowledge', ok: true, passages: passages.length } };
    } catch (e) {
      return { passages: [], source: failed('knowledge', e) };
    }
  }
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

function failed(kind: ContextKind, e: unknown): ContextSource {
  return { kind, ok: false, passages: 0, error: e instanceof Error ? e.message : String(e) };
}
