import { rethrowUnavailable } from '@heady/contracts';
import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

const unavailable = (err: unknown): never => rethrowUnavailable(err, 'postgres');

/** An enabled service group and the actions routed to it. */
export interface GroupActions {
  group: string;
  actions: string[];
  createdAt: Date;
}

/** The routing table as `/v1` reads it: which groups exist, and their actions. */
@Injectable()
export class ModelsRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Every enabled group with its actions (alphabetical), groups by name. */
  async groups(): Promise<GroupActions[]> {
    const rows = await this.db
      .selectFrom('service_groups as sg')
      .innerJoin('routing_actions as ra', 'ra.group_name', 'sg.name')
      .select(['sg.name as group', 'ra.action as action', 'sg.created_at as createdAt'])
      .where('sg.enabled', '=', true)
      .orderBy('sg.name')
      .orderBy('ra.action')
      .execute()
      .catch(unavailable);
    const byGroup = new Map<string, GroupActions>();
    for (const r of rows) {
      const g = byGroup.get(r.group) ?? { group: r.group, actions: [], createdAt: r.createdAt };
      g.actions.push(r.action);
      byGroup.set(r.group, g);
    }
    return [...byGroup.values()];
  }
}
