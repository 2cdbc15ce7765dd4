import { type BusPublisher } from '@heady/bus';
import { SearchMemory } from '@heady/contracts';
import { type PipelineConfig } from '@heady/config';

/** A passage retrieved for a run, attributed: what the model is handed and the result lists. */
export interface RetrievedPassage {
  /** Where it came from: `memory` (the organization's vector memory). */
  kind: 'memory';
  /** The id of the item in its store (a memory vector id). */
  id: string;
  /** How it is quoted in attributions: `memory:<session>` or `memory`. */
  source: string;
  text: string;
  /** Cosine similarity to the question. */
  score: number;
}

/** What one store answered: how many passages it gave, or why it gave none. */
export interface ContextSource {
  kind: 'memory';
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

/** Context over signed request/reply: `memory.search` to vector memory, scoped to the run's organization. */
export class BusContextRetrieval implements ContextRetrieval {
  constructor(
    private readonly bus: BusPublisher,
    private readonly config: PipelineConfig['context'],
  ) {}

  async retrieve(q: ContextQuery): Promise<RetrievedContext> {
    if (this.config.topK === 0) return { passages: [], sources: [] };
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
          score: Math.round(h.score * 10_000) / 10_000,
        }));
      return {
        passages,
        sources: [{ kind: 'memory', ok: true, passages: passages.length, exact: reply.exact }],
      };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      return { passages: [], sources: [{ kind: 'memory', ok: false, passages: 0, error }] };
    }
  }
}
