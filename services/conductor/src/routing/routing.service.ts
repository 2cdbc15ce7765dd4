import { UnknownActionError } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { type RouteEntry, RoutingRepository } from './routing.repository.js';

/** How long a loaded routing table is trusted before it is read again. */
const TABLE_TTL_MS = 5_000;

/**
 * The task-router layer of the conductor: maps an action to its service group using the
 * table in PostgreSQL. The table is cached briefly; an unknown action re-reads it first,
 * so an action added at run time is routable at once.
 */
@Injectable()
export class RoutingService {
  private table = new Map<string, RouteEntry>();
  private loadedAt = 0;

  constructor(@Inject(RoutingRepository) private readonly repo: RoutingRepository) {}

  /** The group for `action`, or {@link UnknownActionError} naming the valid actions. */
  async resolve(action: string, now = Date.now()): Promise<RouteEntry> {
    if (now - this.loadedAt > TABLE_TTL_MS) await this.reload(now);
    let route = this.table.get(action);
    if (!route && this.loadedAt !== now) {
      await this.reload(now);
      route = this.table.get(action);
    }
    if (!route) throw new UnknownActionError(action, [...this.table.keys()].sort());
    return route;
  }

  /** The whole table, grouped: `{ group, weight, actions }[]`, heaviest first. */
  async groups(): Promise<{ group: string; weight: number; actions: string[] }[]> {
    await this.reload(Date.now());
    const byGroup = new Map<string, { group: string; weight: number; actions: string[] }>();
    for (const r of this.table.values()) {
      const g = byGroup.get(r.group) ?? { group: r.group, weight: r.weight, actions: [] };
      g.actions.push(r.action);
      byGroup.set(r.group, g);
    }
    return [...byGroup.values()].sort(
      (a, b) => b.weight - a.weight || a.group.localeCompare(b.group),
    );
  }

  private async reload(now: number): Promise<void> {
    const rows = await this.repo.loadTable();
    this.table = new Map(rows.map((r) => [r.action, r]));
    this.loadedAt = now;
  }
}
