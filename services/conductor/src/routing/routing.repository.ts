import { type Database, type Kysely } from '@heady/db';
import { DB } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** One row of the routing table: an action and the service group that serves it. */
export interface RouteEntry {
  action: string;
  group: string;
  weight: number;
}

@Injectable()
export class RoutingRepository {
  constructor(@Inject(DB) private readonly db: Kysely<Database>) {}

  /** Every action of every enabled group. */
  async loadTable(): Promise<RouteEntry[]> {
    return this.db
      .selectFrom('routing_actions as ra')
      .innerJoin('service_groups as sg', 'sg.name', 'ra.group_name')
      .select(['ra.action as action', 'sg.name as group', 'sg.weight as weight'])
      .where('sg.enabled', '=', true)
      .orderBy('ra.action')
      .execute();
  }

  /** Adds a group or changes its weight (the table is data: groups can be added at run time). */
  async upsertGroup(name: string, weight: number): Promise<void> {
    await this.db
      .insertInto('service_groups')
      .values({ name, weight })
      .onConflict((oc) => oc.column('name').doUpdateSet({ weight, updated_at: new Date() }))
      .execute();
  }

  /** Routes an action to a group, moving it if it was routed elsewhere. */
  async upsertAction(action: string, group: string): Promise<void> {
    await this.db
      .insertInto('routing_actions')
      .values({ action, group_name: group })
      .onConflict((oc) => oc.column('action').doUpdateSet({ group_name: group }))
      .execute();
  }
}
