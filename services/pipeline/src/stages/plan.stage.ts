import { defineStage } from './stage.js';

/**
 * Stage 2. Records the service group the conductor chose, with its weight and the
 * workflow's task budget, as a one-task graph. Monte Carlo readiness and usage budget
 * reservation arrive with durable runs.
 */
export const plan = defineStage({ name: 'plan' }, async ({ run, cmd, tx, state }) => {
  const group = await tx
    .selectFrom('service_groups')
    .select(['name', 'weight'])
    .where('name', '=', cmd.group)
    .executeTakeFirst();
  const workflow = await tx
    .selectFrom('workflows')
    .select(['max_concurrent_tasks'])
    .where('id', '=', run.workflow_id)
    .executeTakeFirst();
  await state.recordGroup(cmd.group);
  return {
    output: {
      group: cmd.group,
      weight: group?.weight ?? null,
      maxConcurrentTasks: workflow?.max_concurrent_tasks ?? 6,
      tasks: [{ id: 'task-1', action: run.action, group: cmd.group }],
    },
    // no usage budget is reserved yet; the reservation's release keys on the group
    compensation: { group: cmd.group },
  };
});
