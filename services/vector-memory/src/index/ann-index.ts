import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { type VectorsRepository } from '../memory/vectors.repository.js';

/** HNSW parameters (usearch): graph degree and the candidate lists at build and query time. */
export interface HnswParams {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

export const DEFAULT_HNSW: HnswParams = {
  connectivity: 32,
  expansionAdd: 256,
  expansionSearch: 512,
};

/**
 * What a saved index file covers, so a restart can tell whether it is still in step with
 * DuckDB, and the file's length and SHA-256, so a corrupt or half-written file is rebuilt
 * rather than handed to usearch (whose loader aborts the process on some garbage).
 */
interface Manifest {
  count: number;
  maxLabel: string;
  savedAt: number;
  bytes?: number;
  sha256?: string;
}

/** SHA-256 (hex) of a file, read in chunks (an index can be gigabytes). */
function fileDigest(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Why a saved file cannot be trusted, or undefined when it is the one the manifest describes. */
function fileProblem(file: string, manifest: Manifest): string | undefined {
  if (manifest.bytes === undefined || manifest.sha256 === undefined)
    return 'saved index has no checksum';
  if (statSync(file).size !== manifest.bytes) return 'saved index is corrupt (length)';
  if (fileDigest(file) !== manifest.sha256) return 'saved index is corrupt (checksum)';
  return undefined;
}

/** One organization's HNSW graph and the session of each key (for filtered search). */
class OrgIndex {
  readonly sessions = new Map<bigint, string | null>();
  dirty = 0;
  constructor(
    readonly index: Index,
    public maxLabel: bigint,
  ) {}
}

/** Health of the index, for stats. */
export interface IndexHealth {
  size: number;
  lastRebuild: string | null;
  lastRebuildReason: string | null;
  lastSave: string | null;
}

/**
 * The approximate nearest-neighbour index beside DuckDB: one usearch HNSW graph per
 * organization (so one organization's search never walks another's vectors), cosine
 * metric, keyed by the row's label. DuckDB is the truth: at start each organization's
 * saved graph is loaded when its manifest matches DuckDB (row count and largest label),
 * caught up when DuckDB only gained rows since the save, and rebuilt from DuckDB
 * otherwise (also when the file is corrupt, half-written or does not load). Saves happen
 * every `saveEvery` changes and at shutdown, atomically (temporary file, then rename).
 */
export class AnnIndex {
  private readonly orgs = new Map<string, OrgIndex>();
  private health: IndexHealth = {
    size: 0,
    lastRebuild: null,
    lastRebuildReason: null,
    lastSave: null,
  };

  constructor(
    private readonly vectors: VectorsRepository,
    private readonly dir: string,
    private readonly params: HnswParams = DEFAULT_HNSW,
    private readonly saveEvery = 1000,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private create(): Index {
    return new Index({
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      dimensions: this.vectors.dimensions,
      connectivity: this.params.connectivity,
      expansion_add: this.params.expansionAdd,
      expansion_search: this.params.expansionSearch,
      multi: false,
    });
  }

  private file(orgId: string): string {
    return join(this.dir, `${Buffer.from(orgId).toString('base64url')}.usearch`);
  }

  /** Loads, catches up or rebuilds every organization's graph from DuckDB. */
  async open(): Promise<void> {
    for (const orgId of await this.vectors.organizations()) await this.openOrg(orgId);
  }

  private async openOrg(orgId: string): Promise<OrgIndex> {
    const summary = await this.vectors.summary(orgId);
    const file = this.file(orgId);
    let manifest: Manifest | undefined;
    try {
      manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as Manifest;
    } catch {
      manifest = undefined;
    }
    let org: OrgIndex | undefined;
    let reason = 'no saved index';
    const problem = manifest && existsSync(file) ? fileProblem(file, manifest) : undefined;
    if (problem) reason = problem;
    else if (manifest && existsSync(file)) {
      const index = this.create();
      try {
        index.load(file);
      } catch (err) {
        return this.opened(
          orgId,
          await this.rebuild(orgId, `saved index does not load: ${String(err)}`),
        );
      }
      org = new OrgIndex(index, BigInt(manifest.maxLabel));
      const gained = summary.maxLabel > org.maxLabel;
      if (manifest.count === summary.count && !gained) reason = '';
      else reason = 'saved index is behind DuckDB';
      if (reason) {
        org = undefined;
        // only rows were added since the save: add those; anything else (deletes) rebuilds
        if (gained) {
          const caught = await this.catchUp(index, BigInt(manifest.maxLabel), orgId).catch(
            () => ({ count: -1 }), // e.g. a key already in the graph: rebuild
          );
          if (caught.count >= 0 && caught.count + manifest.count === summary.count) {
            org = new OrgIndex(index, summary.maxLabel);
            reason = '';
          }
        }
      }
      if (org) await this.loadSessions(orgId, org);
    }
    if (!org) org = await this.rebuild(orgId, reason);
    return this.opened(orgId, org);
  }

  private opened(orgId: string, org: OrgIndex): OrgIndex {
    this.orgs.set(orgId, org);
    this.refreshSize();
    return org;
  }

  private async catchUp(index: Index, after: bigint, orgId: string): Promise<{ count: number }> {
    let count = 0;
    for await (const page of this.vectors.scan(orgId))
      for (const r of page)
        if (r.label > after) {
          index.add(r.label, r.embedding);
          count++;
        }
    return { count };
  }

  private async loadSessions(orgId: string, org: OrgIndex): Promise<void> {
    for await (const page of this.vectors.scan(orgId))
      for (const r of page) org.sessions.set(r.label, r.sessionId);
  }

  /** Builds an organization's graph from DuckDB. */
  async rebuild(orgId: string, reason: string): Promise<OrgIndex> {
    const summary = await this.vectors.summary(orgId);
    const org = new OrgIndex(this.create(), summary.maxLabel);
    for await (const page of this.vectors.scan(orgId)) {
      const keys = new BigUint64Array(page.map((r) => r.label));
      org.index.add(
        keys,
        page.map((r) => r.embedding),
      );
      for (const r of page) org.sessions.set(r.label, r.sessionId);
    }
    this.orgs.set(orgId, org);
    this.health.lastRebuild = new Date().toISOString();
    this.health.lastRebuildReason = reason;
    this.save(orgId, org, summary.count);
    this.refreshSize();
    return org;
  }

  private org(orgId: string): OrgIndex {
    let org = this.orgs.get(orgId);
    if (!org) {
      org = new OrgIndex(this.create(), 0n);
      this.orgs.set(orgId, org);
    }
    return org;
  }

  /** Adds committed rows. */
  add(
    orgId: string,
    rows: { label: bigint; sessionId: string | null; embedding: Float32Array }[],
  ): void {
    if (!rows.length) return;
    const org = this.org(orgId);
    org.index.add(
      new BigUint64Array(rows.map((r) => r.label)),
      rows.map((r) => r.embedding),
    );
    for (const r of rows) {
      org.sessions.set(r.label, r.sessionId);
      if (r.label > org.maxLabel) org.maxLabel = r.label;
    }
    this.changed(orgId, org, rows.length);
  }

  /** Removes deleted rows. */
  remove(orgId: string, labels: bigint[]): void {
    const org = this.orgs.get(orgId);
    if (!org || !labels.length) return;
    org.index.remove(new BigUint64Array(labels));
    for (const l of labels) org.sessions.delete(l);
    this.changed(orgId, org, labels.length);
  }

  private changed(orgId: string, org: OrgIndex, n: number): void {
    org.dirty += n;
    this.refreshSize();
    if (org.dirty >= this.saveEvery) this.save(orgId, org);
  }

  /**
   * Approximate top-k by cosine. With a session, keeps only that session's keys,
   * widening the candidate list until k are found or the graph is exhausted.
   */
  search(
    orgId: string,
    query: Float32Array,
    k: number,
    sessionId?: string,
  ): { label: bigint; score: number }[] {
    const org = this.orgs.get(orgId);
    if (!org || org.index.size() === 0) return [];
    const size = org.index.size();
    let want = sessionId === undefined ? k : k * 4;
    for (;;) {
      const m = org.index.search(query, Math.min(want, size), 0);
      const out: { label: bigint; score: number }[] = [];
      for (let i = 0; i < m.keys.length && out.length < k; i++) {
        const label = m.keys[i] as bigint;
        if (sessionId !== undefined && org.sessions.get(label) !== sessionId) continue;
        out.push({ label, score: 1 - (m.distances[i] as number) });
      }
      if (out.length >= k || want >= size) return out;
      want *= 4;
    }
  }

  /** Keys in an organization's session (to choose exact search for small sessions). */
  sessionSize(orgId: string, sessionId: string): number {
    const org = this.orgs.get(orgId);
    if (!org) return 0;
    let n = 0;
    for (const s of org.sessions.values()) if (s === sessionId) n++;
    return n;
  }

  size(orgId: string): number {
    return this.orgs.get(orgId)?.index.size() ?? 0;
  }

  /**
   * Writes the graph and its manifest each to a temporary file and renames them into place
   * (a crash leaves the old file or the new one, never half of one); the manifest carries
   * the new file's length and checksum, so a crash between the two renames is seen at the
   * next start and the graph rebuilt.
   */
  private save(orgId: string, org: OrgIndex, count = org.sessions.size): void {
    const file = this.file(orgId);
    org.index.save(`${file}.tmp`);
    const manifest: Manifest = {
      count,
      maxLabel: String(org.maxLabel),
      savedAt: Date.now(),
      bytes: statSync(`${file}.tmp`).size,
      sha256: fileDigest(`${file}.tmp`),
    };
    writeFileSync(`${file}.json.tmp`, JSON.stringify(manifest));
    renameSync(`${file}.tmp`, file);
    renameSync(`${file}.json.tmp`, `${file}.json`);
    org.dirty = 0;
    this.health.lastSave = new Date().toISOString();
  }

  /** Saves every organization's graph that changed since its last save. */
  saveAll(): void {
    for (const [orgId, org] of this.orgs) if (org.dirty) this.save(orgId, org);
  }

  /** Drops every saved graph (tests; an operator forcing a rebuild at next start). */
  clearSaved(): void {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
  }

  private refreshSize(): void {
    let n = 0;
    for (const o of this.orgs.values()) n += o.index.size();
    this.health.size = n;
  }

  get status(): IndexHealth {
    return { ...this.health };
  }
}
