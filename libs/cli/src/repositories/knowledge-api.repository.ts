import { type RepoCursorReply, type RepoSyncReply } from '@heady/contracts';

/** The gateway's `/api/knowledge/repos/*`, with an API key (its organization's vault). */
export class KnowledgeApiRepository {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(180_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        // not problem+json
      }
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${detail}`);
    }
    return JSON.parse(text) as T;
  }

  cursor(repo: string): Promise<RepoCursorReply> {
    return this.call('GET', `/api/knowledge/repos/cursor?repo=${encodeURIComponent(repo)}`);
  }

  sync(batch: {
    repo: string;
    commit: string;
    upserts: { path: string; content: string }[];
    deletes: string[];
    final: boolean;
  }): Promise<RepoSyncReply> {
    return this.call('POST', '/api/knowledge/repos/sync', batch);
  }
}
