import { randomUUID } from 'node:crypto';
import {
  type Database,
  ensureOrganization,
  type Kysely,
  type NewPipelineRun,
  type PipelineRun,
  RunStateRepository,
} from '@heady/db';

/**
 * Writes a run PENDING, as the conductor does when it admits one (through the run-state
 * repository), in a new organization: the `reasoning` group's `complete` action unless `more`
 * says otherwise.
 */
export async function acceptRun(
  db: Kysely<Database>,
  more: Partial<Omit<NewPipelineRun, 'status'>> = {},
): Promise<PipelineRun> {
  const org = await ensureOrganization(db, `org-${randomUUID()}`);
  const run = await new RunStateRepository(db).accept({
    id: randomUUID(),
    workflow_id: 'hcfullpipeline',
    org_id: org.id,
    seed: 7,
    action: 'complete',
    service_group: 'reasoning',
    input: {},
    options: {},
    ...more,
  });
  if (!run) throw new Error('run not written');
  return run;
}
