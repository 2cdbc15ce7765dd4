import { type ApiKeyPrincipal } from '@heady/db';

/**
 * API key lookups kept in process for `ttlMs`, so an authenticated request costs no
 * PostgreSQL round trip. It is only trusted while the change feed is live (see
 * ApiKeyChangesRepository): every change evicts what it touches, and a lookup that was
 * under way when any change arrived is not kept (it may have read the old row).
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { principal: ApiKeyPrincipal; expires: number }>();
  private generation = 0;
  private live = false;

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while lookups are cached: a TTL is configured and the change feed is live. */
  get enabled(): boolean {
    return this.ttlMs > 0 && this.live;
  }

  get(keyHash: string): ApiKeyPrincipal | undefined {
    if (!this.enabled) return undefined;
    const e = this.entries.get(keyHash);
    if (!e) return undefined;
    if (e.expires > this.now()) return e.principal;
    this.entries.delete(keyHash);
    return undefined;
  }

  /** Call before a lookup; pass the result to {@link set} with what it found. */
  begin(): number {
    return this.generation;
  }

  /** Keeps a lookup that started at `since`, unless a change arrived in between. */
  set(keyHash: string, principal: ApiKeyPrincipal, since: number): void {
    if (!this.enabled || since !== this.generation) return;
    if (this.entries.size >= this.max && !this.entries.has(keyHash)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(keyHash, { principal, expires: this.now() + this.ttlMs });
  }

  /** Records a use written to PostgreSQL, so the cached copy does not ask for another. */
  touched(keyHash: string, at: Date): void {
    const e = this.entries.get(keyHash);
    if (e) e.principal = { ...e.principal, lastUsedAt: at };
  }

  /** A key was revoked, deleted or changed. */
  evictKey(keyHash: string): void {
    this.generation += 1;
    this.entries.delete(keyHash);
  }

  /** An organization was renamed, changed plan or was deleted. */
  evictOrg(orgId: string): void {
    this.generation += 1;
    for (const [k, e] of this.entries) if (e.principal.orgId === orgId) this.entries.delete(k);
  }

  /** The change feed came up or went down: start from nothing either way. */
  setLive(live: boolean): void {
    this.generation += 1;
    this.live = live;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
