import { UnknownActionError } from '@heady/contracts';
import { describe, expect, it, vi } from 'vitest';
import { type RouteEntry, type RoutingRepository } from './routing.repository.js';
import { RoutingService } from './routing.service.js';

const table: RouteEntry[] = [
  { action: 'chat', group: 'reasoning', weight: 1 },
  { action: 'analyze', group: 'reasoning', weight: 1 },
  { action: 'code', group: 'coding', weight: 0.95 },
];

function repoWith(rows: RouteEntry[][]) {
  const loadTable = vi.fn<() => Promise<RouteEntry[]>>();
  for (const r of rows) loadTable.mockResolvedValueOnce(r);
  loadTable.mockResolvedValue(rows.at(-1) ?? []);
  return { repo: { loadTable } as unknown as RoutingRepository, loadTable };
}

describe(RoutingService.name, () => {
  it('routes an action to its group', async () => {
    const { repo } = repoWith([table]);
    await expect(new RoutingService(repo).resolve('code', 1000)).resolves.toMatchObject({
      group: 'coding',
      weight: 0.95,
    });
  });

  it('rejects an unknown action naming the valid ones', async () => {
    const { repo } = repoWith([table]);
    const err = await new RoutingService(repo).resolve('dance', 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownActionError);
    expect((err as UnknownActionError).details.validActions).toEqual(['analyze', 'chat', 'code']);
  });

  it('serves from cache within the TTL', async () => {
    const { repo, loadTable } = repoWith([table]);
    const svc = new RoutingService(repo);
    await svc.resolve('chat', 1000);
    await svc.resolve('analyze', 2000);
    expect(loadTable).toHaveBeenCalledTimes(1);
  });

  it('re-reads the table on a miss, so an action added at run time routes at once', async () => {
    const { repo, loadTable } = repoWith([
      table,
      [...table, { action: 'forage', group: 'swarm', weight: 0.8 }],
    ]);
    const svc = new RoutingService(repo);
    await svc.resolve('chat', 1000);
    await expect(svc.resolve('forage', 1500)).resolves.toMatchObject({ group: 'swarm' });
    expect(loadTable).toHaveBeenCalledTimes(2);
  });

  it('groups the table heaviest first', async () => {
    const { repo } = repoWith([table]);
    const groups = await new RoutingService(repo).groups();
    expect(groups.map((g) => g.group)).toEqual(['reasoning', 'coding']);
    expect(groups[0]?.actions.sort()).toEqual(['analyze', 'chat']);
  });
});
